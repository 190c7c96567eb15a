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
