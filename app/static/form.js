// Error summary (GOV.UK pattern): its links move focus to the field itself,
// not just scroll, and bring the field's label or legend into view.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
  if (!link) return;
  var input = document.getElementById(link.hash.slice(1));
  if (!input) return;
  event.preventDefault();
  var group = input.closest("fieldset") || input.closest(".field") || input;
  group.scrollIntoView();
  input.focus({ preventScroll: true });
});
// autofocus on the summary covers browsers without this script; this covers
// browsers that ignore autofocus on non-form elements.
var summary = document.getElementById("error-summary");
if (summary && document.activeElement !== summary) summary.focus();

// Conditional reveal (GOV.UK radios): a choice's follow-up questions show
// only while it is checked. Without this script they all show, and the
// server ignores the ones that do not apply.
var controls = document.querySelectorAll("input[type=radio][data-aria-controls]");
function syncReveals() {
  for (var i = 0; i < controls.length; i++) {
    var reveal = document.getElementById(controls[i].getAttribute("aria-controls"));
    reveal.hidden = !controls[i].checked;
  }
}
for (var i = 0; i < controls.length; i++) {
  controls[i].setAttribute("aria-controls", controls[i].getAttribute("data-aria-controls"));
  controls[i].removeAttribute("data-aria-controls");
}
if (controls.length) {
  document.addEventListener("change", function (event) {
    if (event.target.type === "radio") syncReveals();
  });
  syncReveals();
}
