(function (button) {
  button.closest("[hidden]").hidden = false;
  button.addEventListener("click", function () {
    window.print();
  });
})(document.currentScript.previousElementSibling.querySelector("[data-print]"));
