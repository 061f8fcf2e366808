// Small behaviours of the portal: list filter (tenant switcher) and charts (Chart.js).
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

  function init(root) { filterLists(root); charts(root); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (e) { init(e.target); });
})();
