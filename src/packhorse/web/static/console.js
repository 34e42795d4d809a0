// Packhorse web console: the live parts of the pages, fed by the event stream
// (/stream/v1/stream, server-sent events). The pages work without this file; it only saves
// reloading. Rows and panels are rendered by the server and fetched as HTML fragments, so
// there is one template for each, and nothing from an event is put into the page as HTML.
(function () {
  "use strict";

  var EXECUTION_EVENTS = "st2.execution__create,st2.execution__update";

  function announce(text) {
    var region = document.getElementById("live-announce");
    if (region) { region.textContent = text; }
  }

  function fetchFragment(url) {
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (response.status === 401) {
          var target = response.headers.get("HX-Redirect");
          if (target) { window.location.assign(target); }
          throw new Error("signed out");
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      });
  }

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function matches(table, doc) {
    if (doc.parent) { return false; }  // the list shows top-level executions
    var action = table.dataset.filterAction, status = table.dataset.filterStatus;
    var pack = table.dataset.filterPack, ref = (doc.action && doc.action.ref) || "";
    if (action && ref !== action) { return false; }
    if (pack && ref.indexOf(pack + ".") !== 0) { return false; }
    if (status && doc.status !== status) { return false; }
    return true;
  }

  function liveExecutions(table) {
    var state = document.querySelector("[data-live-state]");
    var body = document.getElementById("execution-rows");
    var empty = document.getElementById("executions-empty");
    var source = new EventSource("/stream/v1/stream?events=" + EXECUTION_EVENTS);
    source.onopen = function () { if (state) { state.textContent = "Live: new executions appear here as they start."; } };
    source.onerror = function () { if (state) { state.textContent = "Live updates interrupted; reconnecting…"; } };

    function refresh(doc, created) {
      var existing = document.getElementById("execution-" + doc.id);
      if (!existing && !(created && matches(table, doc))) { return; }
      fetchFragment("/ui/executions/" + encodeURIComponent(doc.id) + "/row").then(function (html) {
        var row = fragment(html);
        if (!row) { return; }
        var current = document.getElementById("execution-" + doc.id);
        if (current) {
          current.replaceWith(row);
          announce(doc.action.ref + " " + doc.status);
        } else {
          body.insertBefore(row, body.firstChild);
          if (empty) { empty.hidden = true; }
          announce("New execution: " + doc.action.ref + ", " + doc.status);
        }
      }).catch(function () { /* the next event or a reload shows it */ });
    }

    source.addEventListener("st2.execution__create", function (event) {
      refresh(JSON.parse(event.data), true);
    });
    source.addEventListener("st2.execution__update", function (event) {
      refresh(JSON.parse(event.data), false);
    });
  }

  function liveExecution(holder) {
    var id = holder.dataset.executionId;
    var output = document.getElementById("execution-output");
    var outputEmpty = document.getElementById("output-empty");
    var pending = false, again = false;

    function refreshPanel() {
      if (pending) { again = true; return; }
      pending = true;
      fetchFragment("/ui/executions/" + encodeURIComponent(id) + "/panel").then(function (html) {
        var panel = fragment(html);
        var current = document.getElementById("execution-panel");
        if (panel && current) {
          var before = current.dataset.status;
          current.replaceWith(panel);
          if (before !== panel.dataset.status) { announce("Status: " + panel.dataset.status); }
          if (panel.dataset.completed === "yes") {
            executions.close();
            if (outputEmpty) { outputEmpty.textContent = "No output."; }
          }
        }
      }).catch(function () {}).then(function () {
        pending = false;
        if (again) { again = false; refreshPanel(); }
      });
    }

    // The execution and its tasks (a workflow's children name it as their parent).
    var executions = new EventSource("/stream/v1/stream?events=" + EXECUTION_EVENTS);
    function onExecution(event) {
      var doc = JSON.parse(event.data);
      if (doc.id === id || doc.parent === id) { refreshPanel(); }
    }
    executions.addEventListener("st2.execution__create", onExecution);
    executions.addEventListener("st2.execution__update", onExecution);
    // Whatever changed between the page's rendering and the stream's opening.
    executions.onopen = function () { refreshPanel(); };

    // Its output: the stream sends what is stored, then each chunk, then EOF.
    if (output) {
      var chunks = new EventSource("/stream/v1/executions/" + encodeURIComponent(id) + "/output");
      var first = true;
      chunks.addEventListener("st2.execution.output__create", function (event) {
        var chunk = JSON.parse(event.data);
        if (first) { output.textContent = ""; first = false; }
        output.appendChild(document.createTextNode(chunk.data));
        if (outputEmpty) { outputEmpty.hidden = true; }
      });
      chunks.addEventListener("EOF", function () { chunks.close(); });
    }
  }

  function start() {
    var table = document.querySelector("table[data-live-executions='on']");
    if (table && window.EventSource) { liveExecutions(table); }
    var holder = document.getElementById("execution-live");
    if (holder && window.EventSource && holder.dataset.completed !== "yes") { liveExecution(holder); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
