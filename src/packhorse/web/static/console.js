// Packhorse web console: the live parts of the pages, fed by the event stream
// (/stream/v1/stream, server-sent events). The pages work without this file; it only saves
// reloading. Rows and panels are rendered by the server and fetched as HTML fragments, so
// there is one template for each, and nothing from an event is put into the page as HTML.
(function () {
  "use strict";

  var EXECUTION_EVENTS = "st2.execution__create,st2.execution__update";  // an execution's page
  var FOLLOW_MS = 500, FOLLOW_TIMES = 40;  // a row the stream will not announce again

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

  function executionMatches(table, doc) {
    if (doc.parent) { return false; }  // the list shows top-level executions
    var action = table.dataset.filterAction, status = table.dataset.filterStatus;
    var pack = table.dataset.filterPack, ref = (doc.action && doc.action.ref) || "";
    if (action && ref !== action) { return false; }
    if (pack && ref.indexOf(pack + ".") !== 0) { return false; }
    if (status && doc.status !== status) { return false; }
    return true;
  }

  function isInquiry(doc) { return Boolean(doc.runner && doc.runner.name === "inquirer"); }

  // What each live list listens to, which events concern it, and how a row is named. A list
  // is a table[data-live-list=KIND], its rows in a tbody, "No ..." in a sibling element.
  var LISTS = {
    executions: {
      events: ["st2.execution__create", "st2.execution__update"],
      rows: "execution-rows", empty: "executions-empty", prefix: "execution-",
      url: "/ui/executions/", noun: "execution", label: function (doc) { return doc.action.ref; },
      ready: "Live: new executions appear here as they start.",
      wanted: function (table, doc, created) { return created && executionMatches(table, doc); }
    },
    inquiries: {
      events: ["st2.execution__create", "st2.execution__update"],
      rows: "inquiry-rows", empty: "inquiries-empty", prefix: "inquiry-",
      url: "/ui/inquiries/", noun: "inquiry", label: function (doc) { return doc.action.ref; },
      ready: "Live: new inquiries appear here; answered ones leave.",
      concerns: isInquiry,
      // The page lists those waiting: one that stops waiting leaves it.
      gone: function (doc) { return doc.status !== "pending"; },
      wanted: function (table, doc) { return doc.status === "pending"; }
    },
    "trigger-instances": {
      events: ["st2.trigger_instance__create"],
      rows: "instance-rows", empty: "trigger-instances-empty", prefix: "instance-",
      url: "/ui/trigger-instances/", noun: "trigger instance",
      label: function (doc) { return doc.trigger_type || doc.trigger; },
      ready: "Live: new trigger instances appear here as they fire.",
      // The stream announces an instance once, when stored: its row is fetched again while
      // the rules have not settled it (every FOLLOW_MS, at most FOLLOW_TIMES).
      unsettled: ["pending", "held"],
      wanted: function (table, doc) {
        var type = table.dataset.filterTriggerType;
        return !type || doc.trigger_type === type || doc.trigger === type;
      }
    }
  };

  function liveList(table, kind) {
    var spec = LISTS[kind];
    var state = document.querySelector("[data-live-state]");
    var body = document.getElementById(spec.rows);
    var empty = document.getElementById(spec.empty);
    var source = new EventSource("/stream/v1/stream?events=" + spec.events.join(","));
    source.onopen = function () { if (state) { state.textContent = spec.ready; } };
    source.onerror = function () { if (state) { state.textContent = "Live updates interrupted; reconnecting…"; } };

    function showEmpty() { if (empty) { empty.hidden = body.rows.length > 0; } }

    function follow(doc, times) {
      window.setTimeout(function () {
        var current = document.getElementById(spec.prefix + doc.id);
        if (!current) { return; }
        fetchFragment(spec.url + encodeURIComponent(doc.id) + "/row").then(function (html) {
          var row = fragment(html);
          var now = document.getElementById(spec.prefix + doc.id);
          if (!row || !now) { return; }
          if (row.dataset.status !== now.dataset.status) {
            now.replaceWith(row);
            announce(spec.label(doc) + " " + row.dataset.status);
          }
          if (spec.unsettled.indexOf(row.dataset.status) >= 0 && times > 1) { follow(doc, times - 1); }
        }).catch(function () { /* a reload shows it */ });
      }, FOLLOW_MS);
    }

    function refresh(doc, created) {
      if (spec.concerns && !spec.concerns(doc)) { return; }
      var existing = document.getElementById(spec.prefix + doc.id);
      if (existing && spec.gone && spec.gone(doc)) {
        existing.remove();
        showEmpty();
        announce(spec.label(doc) + " " + doc.status + ": no longer listed");
        return;
      }
      if (!existing && !spec.wanted(table, doc, created)) { return; }
      fetchFragment(spec.url + encodeURIComponent(doc.id) + "/row").then(function (html) {
        var row = fragment(html);
        if (!row) { return; }
        // The status the row was rendered with, against the page's status filter.
        var status = table.dataset.filterStatus;
        var current = document.getElementById(spec.prefix + doc.id);
        if (current) {
          current.replaceWith(row);
          announce(spec.label(doc) + " " + row.dataset.status);
        } else if (!status || row.dataset.status === status) {
          body.insertBefore(row, body.firstChild);
          showEmpty();
          announce("New " + spec.noun + ": " + spec.label(doc) + ", " + row.dataset.status);
        } else {
          return;
        }
        if (spec.unsettled && spec.unsettled.indexOf(row.dataset.status) >= 0) {
          follow(doc, FOLLOW_TIMES);
        }
      }).catch(function () { /* the next event or a reload shows it */ });
    }

    spec.events.forEach(function (name) {
      source.addEventListener(name, function (event) {
        refresh(JSON.parse(event.data), /__create$/.test(name));
      });
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
    var table = document.querySelector("table[data-live='on']");
    if (table && window.EventSource && LISTS[table.dataset.liveList]) { liveList(table, table.dataset.liveList); }
    var holder = document.getElementById("execution-live");
    if (holder && window.EventSource && holder.dataset.completed !== "yes") { liveExecution(holder); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
