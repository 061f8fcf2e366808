// Small behaviours of the portal: list filter (tenant switcher), charts (Chart.js) and the
// remote-command form's fields.
(function () {
  "use strict";

  function filterLists(root) {
    root.querySelectorAll("[data-filter-list]").forEach(function (input) {
      if (input.dataset.bound) return;
      input.dataset.bound = "1";
      input.addEventListener("input", function () {
        var q = input.value.trim().toLowerCase();
        var list = document.getElementById(input.dataset.filterList);
        list.querySelectorAll("[data-filter-text]").forEach(function (li) {
          li.hidden = q !== "" && li.dataset.filterText.indexOf(q) === -1;
        });
      });
    });
  }

  // <canvas data-chart="ID"> with <script type="application/json" id="ID"> holding
  // {"type": "bar"|"line", "labels": [...], "datasets": [{"label", "data", "yAxisID"?}], "y2"?: "label"}
  function charts(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.bound) return;
      canvas.dataset.bound = "1";
      var spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
      var scales = { y: { beginAtZero: true, position: "left", title: { display: !!spec.y, text: spec.y || "" } } };
      if (spec.y2) {
        scales.y2 = { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: spec.y2 } };
      }
      new Chart(canvas, {
        type: spec.type || "bar",
        data: { labels: spec.labels, datasets: spec.datasets },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          interaction: { mode: "index", intersect: false },
          scales: scales,
          plugins: { legend: { display: spec.datasets.length > 1 } }
        }
      });
    });
  }

  // <select data-command-fields> whose options carry data-fields="a b" (the fields the
  // option uses) and data-names='{"a": "what the field is called for it"}': the form shows
  // the chosen option's fields only ([data-command-field] labels) and disables the others,
  // so they are not sent. Without JavaScript every field shows; the server reads only the
  // command's own fields either way.
  function commandForms(root) {
    root.querySelectorAll("select[data-command-fields]").forEach(function (select) {
      if (select.dataset.bound) return;
      select.dataset.bound = "1";
      function show() {
        var option = select.options[select.selectedIndex];
        var fields = (option.dataset.fields || "").split(" ");
        var names = JSON.parse(option.dataset.names || "{}");
        select.form.querySelectorAll("[data-command-field]").forEach(function (label) {
          var field = label.dataset.commandField;
          var shown = fields.indexOf(field) !== -1;
          label.hidden = !shown;
          label.querySelectorAll("input, select").forEach(function (el) { el.disabled = !shown; });
          var name = label.querySelector("[data-field-name]");
          if (name) {
            if (!name.dataset.default) name.dataset.default = name.textContent;
            name.textContent = names[field] || name.dataset.default;
          }
        });
      }
      select.addEventListener("change", show);
      show();
    });
  }

  function init(root) { filterLists(root); charts(root); commandForms(root); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (e) { init(e.target); });
})();
