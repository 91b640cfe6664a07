// The dashboard's only script besides htmx: "select all" on the dead-letter list.
// (No inline scripts anywhere: the Content-Security-Policy forbids them.)
document.addEventListener("change", function (event) {
  var box = event.target;
  if (box && box.id === "select-all") {
    document.querySelectorAll('#bulk input[name="ids"]').forEach(function (item) {
      item.checked = box.checked;
    });
  }
});
