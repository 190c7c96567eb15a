// "Print this page" (the binder copy, the wallet card): only a browser that
// runs this script can print from a button, so only then does it show.
var printButtons = document.querySelectorAll("[data-print]");
for (var i = 0; i < printButtons.length; i++) {
  printButtons[i].closest("[hidden]").hidden = false;
  printButtons[i].addEventListener("click", function () {
    window.print();
  });
}
