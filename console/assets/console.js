// The dashboard's only script: the live tail (Server-Sent Events) and
// the state of a replayed delivery. Everything from the server is put
// into the page as text (textContent), never as markup.
"use strict";

(function () {
  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    return td;
  }

  function startTail(table) {
    var status = document.getElementById("tail-status");
    var body = table.tBodies[0];
    var eventURL = table.dataset.eventUrl;
    var source = new EventSource(table.dataset.tailUrl);
    source.onopen = function () { status.textContent = "live"; };
    source.onerror = function () { status.textContent = "reconnecting…"; };
    source.addEventListener("event", function (msg) {
      var e;
      try { e = JSON.parse(msg.data).event; } catch (err) { return; }
      var tr = document.createElement("tr");
      tr.className = "new";
      tr.dataset.eventId = e.id;
      var when = cell("");
      var a = document.createElement("a");
      a.href = eventURL + encodeURIComponent(e.id) + (e.tenant_id ? "?tenant=" + encodeURIComponent(e.tenant_id) : "");
      a.textContent = (e.occurred_at || "").replace("T", " ").replace(/\.\d+Z$/, "Z");
      when.appendChild(a);
      tr.appendChild(when);
      tr.appendChild(cell(e.type));
      tr.appendChild(cell(e.event_name));
      tr.appendChild(cell(e.carrier));
      var trk = cell(e.tracking_number);
      trk.className = "tracking";
      tr.appendChild(trk);
      tr.appendChild(cell(e.tenant_id));
      var d = cell(e.event_data && e.event_data.description);
      d.className = "description";
      tr.appendChild(d);
      body.insertBefore(tr, body.firstChild);
      while (body.rows.length > 200) { body.deleteRow(body.rows.length - 1); }
    });
  }

  // A replayed delivery's row follows its state until it is final.
  function watch(row) {
    var url = row.dataset.watchDelivery;
    var cellEl = row.querySelector(".state-cell");
    function poll() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (!d) { return; }
          var span = document.createElement("span");
          span.className = "state state-" + d.state;
          span.textContent = d.state;
          cellEl.replaceChildren(span);
          if (d.state !== "succeeded" && d.state !== "dead") { setTimeout(poll, 500); }
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("tail");
    if (table) { startTail(table); }
    document.querySelectorAll("[data-watch-delivery]").forEach(watch);
  });
})();
