// The print button: only a browser that runs scripts can print from a button,
// so only then is it shown. Inline, right after its button: no extra request.
(function (button) {
  button.closest("[hidden]").hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
})(document.currentScript.previousElementSibling.querySelector("[data-print]"));
