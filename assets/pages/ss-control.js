// The control page (/control): live chat with moderation buttons, the sources' health, OBS scenes,
// trigger toggles, polls, a clip button and the audit log, all through the control API.
// The token is asked for once and kept in session storage, sent only as an Authorization header
// (never in a URL). Buttons the token's role may not use are never created; the server refuses
// them anyway. Chat text is only ever set as text, never parsed as markup.
(function () {
  "use strict";
  var KEY = "ss-control-token";
  var RANK = { viewer: 0, moderator: 1, owner: 2 };
  var role = null;
  var token = sessionStorage.getItem(KEY);

  function $(id) { return document.getElementById(id); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function may(need) { return role !== null && RANK[role] >= RANK[need]; }
  function notice(text) { $("notice").textContent = text || ""; }

  function api(method, path, body) {
    var init = { method: method, headers: { Authorization: "Bearer " + token }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (response.status === 401) { signOut("The token was refused; enter it again."); }
        if (!response.ok) {
          var error = json.error || {};
          throw new Error((error.code || response.status) + ": " + (error.message || "failed"));
        }
        return json;
      });
    });
  }

  function change(path, body, done) {
    return api("POST", path, body).then(function (answer) {
      notice("");
      refreshAudit();
      if (done) { done(answer); }
    }).catch(function (e) { notice(e.message); refreshAudit(); });
  }

  function button(label, need, onClick, className) {
    if (!may(need)) { return null; }
    var b = el("button", className || "", label);
    b.type = "button";
    b.dataset.minRole = need;
    b.addEventListener("click", onClick);
    return b;
  }

  function append(parent, child) { if (child) { parent.appendChild(child); } }

  // --- Chat -----------------------------------------------------------------------------------
  var MAX_LINES = 200;
  var seen = {};
  function addChat(event) {
    if (!event || !event.message_id || seen[event.platform + ":" + event.message_id]) { return; }
    seen[event.platform + ":" + event.message_id] = true;
    var author = event.author || {};
    var line = el("li", "msg");
    line.dataset.id = event.message_id;
    line.appendChild(el("span", "msg-meta", event.platform + " · " + event.creator));
    line.appendChild(el("span", "msg-author", author.display_name || author.login || "?"));
    line.appendChild(el("span", "msg-text", event.text || event.kind));
    var actions = el("span", "msg-actions");
    var target = { creator: event.creator, platform: event.platform };
    var user = { creator: event.creator, platform: event.platform, user_id: author.id, login: author.login };
    append(actions, button("Delete", "moderator", function () {
      change("/api/v1/moderation/delete", Object.assign({ message_id: event.message_id }, target), function () {
        line.classList.add("gone");
      });
    }));
    append(actions, button("Time out", "moderator", function () {
      change("/api/v1/moderation/timeout", Object.assign({ seconds: 600 }, user));
    }));
    append(actions, button("Ban", "moderator", function () {
      change("/api/v1/moderation/ban", user);
    }, "danger"));
    if (actions.childNodes.length) { line.appendChild(actions); }
    var list = $("chat");
    list.appendChild(line);
    while (list.childNodes.length > MAX_LINES) { list.removeChild(list.firstChild); }
    list.scrollTop = list.scrollHeight;
  }

  // Server-Sent Events read with fetch, so the token travels in a header, not in the URL.
  function live() {
    fetch("/events", { headers: { Authorization: "Bearer " + token }, cache: "no-store" }).then(function (response) {
      if (!response.ok || !response.body) { throw new Error("events " + response.status); }
      $("live").textContent = "live";
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      var kind = "message";
      var data = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { throw new Error("the stream ended"); }
          buffer += decoder.decode(chunk.value, { stream: true });
          var lines = buffer.split("\n");
          buffer = lines.pop();
          lines.forEach(function (raw) {
            var l = raw.replace(/\r$/, "");
            if (l.indexOf("event:") === 0) { kind = l.slice(6).trim(); }
            else if (l.indexOf("data:") === 0) { data += l.slice(5).replace(/^ /, ""); }
            else if (l === "") {
              if (data) { dispatch(kind, data); }
              kind = "message";
              data = "";
            }
          });
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      $("live").textContent = "reconnecting…";
      setTimeout(live, 3000);
    });
  }
  function dispatch(kind, data) {
    var json;
    try { json = JSON.parse(data); } catch (e) { return; }
    if (kind === "chat") { addChat(json); }
    // An action may open or close a poll, or change what the panels show: refresh them soon, once.
    if (kind === "action" && !refreshSoon) {
      refreshSoon = setTimeout(function () {
        refreshSoon = null;
        refreshPolls();
        refreshAudit();
      }, 500);
    }
  }
  var refreshSoon = null;

  // --- Panels ---------------------------------------------------------------------------------
  function fill(id, items, render, empty) {
    var list = $(id);
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (!items || !items.length) { list.appendChild(el("li", "muted", empty)); return; }
    items.forEach(function (item) { list.appendChild(render(item)); });
  }

  function refreshSources() {
    api("GET", "/api/v1/status").then(function (status) {
      var snapshot = status.snapshot || {};
      fill("sources", snapshot.sources, function (s) {
        var li = el("li");
        li.appendChild(el("span", "msg-author", (s.creator || "") + "/" + (s.platform || "")));
        li.appendChild(el("span", "muted", s.state || s.status || ""));
        return li;
      }, "no sources yet");
      fill("obs", status.obs, function (o) {
        var li = el("li");
        li.appendChild(el("div", "msg-author", o.creator + ": " + o.state + (o.current_scene ? " · " + o.current_scene : "")));
        var row = el("div", "row");
        li.appendChild(row);
        api("GET", "/api/v1/obs/" + encodeURIComponent(o.creator) + "/scenes").then(function (answer) {
          answer.scenes.forEach(function (scene) {
            append(row, button(scene, "moderator", function () {
              change("/api/v1/obs/" + encodeURIComponent(o.creator) + "/request", { request: "switch_scene", scene: scene }, refreshSources);
            }, scene === o.current_scene ? "on" : ""));
          });
          append(row, button("Start stream", "owner", function () {
            change("/api/v1/obs/" + encodeURIComponent(o.creator) + "/request", { request: "stream", op: "start" });
          }));
          append(row, button("Stop stream", "owner", function () {
            change("/api/v1/obs/" + encodeURIComponent(o.creator) + "/request", { request: "stream", op: "stop" });
          }, "danger"));
        }).catch(function (e) { row.appendChild(el("span", "muted", e.message)); });
        return li;
      }, "no OBS in obs.json");
      var creators = {};
      (snapshot.sources || []).forEach(function (s) { if (s.creator) { creators[s.creator] = true; } });
      var pick = $("clip-creator");
      var current = pick.value;
      while (pick.firstChild) { pick.removeChild(pick.firstChild); }
      Object.keys(creators).forEach(function (c) {
        var option = el("option", "", c);
        option.value = c;
        pick.appendChild(option);
      });
      if (current) { pick.value = current; }
    }).catch(function (e) { notice(e.message); });
  }

  function refreshTriggers() {
    api("GET", "/api/v1/triggers").then(function (answer) {
      fill("triggers", answer.triggers, function (t) {
        var li = el("li", "row");
        li.appendChild(el("span", "msg-author", t.creator + "/" + t.id));
        li.appendChild(el("span", "muted", (t.command || t.kind || "") + " → " + (t.action || "")));
        var path = "/api/v1/triggers/" + encodeURIComponent(t.creator) + "/" + encodeURIComponent(t.id) + "/enabled";
        if (t.command) {
          append(li, button("Run", "moderator", function () {
            change("/api/v1/triggers/" + encodeURIComponent(t.creator) + "/" + encodeURIComponent(t.id) + "/run", {});
          }));
        }
        append(li, button(t.enabled ? "On" : "Off", "moderator", function () {
          change(path, { enabled: !t.enabled, persist: false }, refreshTriggers);
        }, t.enabled ? "on" : ""));
        append(li, button(t.enabled ? "Disable and save" : "Enable and save", "owner", function () {
          change(path, { enabled: !t.enabled, persist: true }, refreshTriggers);
        }));
        return li;
      }, "no triggers");
    }).catch(function (e) { notice(e.message); });
  }

  function refreshPolls() {
    api("GET", "/api/v1/polls").then(function (answer) {
      var open = (answer.polls || []).filter(function (p) { return !p.closed_at && p.question; });
      fill("polls", open, function (p) {
        var li = el("li");
        li.appendChild(el("div", "msg-author", p.creator + ": " + p.question));
        var counts = (p.options || []).map(function (o) { return o.option + " " + o.votes; }).join(" · ");
        li.appendChild(el("div", "muted", counts + " (" + p.total_votes + " votes)"));
        append(li, button("Close poll", "moderator", function () {
          change("/api/v1/polls/" + encodeURIComponent(p.creator) + "/close", {}, function () {
            setTimeout(refreshPolls, 1000);
          });
        }));
        return li;
      }, "no open polls");
    }).catch(function (e) { notice(e.message); });
  }

  function refreshAudit() {
    api("GET", "/api/v1/audit").then(function (answer) {
      fill("audit", (answer.entries || []).slice(0, 30), function (a) {
        var li = el("li");
        li.appendChild(el("span", "msg-meta", a.at));
        li.appendChild(el("span", "msg-author", a.actor || a.action));
        li.appendChild(el("span", "", a.route || a.detail));
        if (a.result) { li.appendChild(el("div", "muted", a.result)); }
        return li;
      }, "nothing audited yet");
    }).catch(function (e) { notice(e.message); });
  }

  // --- Start ----------------------------------------------------------------------------------
  function signOut(reason) {
    sessionStorage.removeItem(KEY);
    token = null;
    role = null;
    $("app").hidden = true;
    $("login").hidden = false;
    notice(reason || "");
  }

  function start() {
    api("GET", "/api/v1/whoami").then(function (me) {
      role = me.role;
      $("who").textContent = me.name + " (" + me.role + ")";
      document.body.dataset.role = me.role;
      $("login").hidden = true;
      $("app").hidden = false;
      document.querySelectorAll("[data-min-role]").forEach(function (node) {
        if (!may(node.dataset.minRole)) { node.parentNode.removeChild(node); }
      });
      api("GET", "/api/v1/chat").then(function (answer) {
        (answer.events || []).slice().reverse().forEach(addChat);
      }).catch(function (e) { notice(e.message); });
      live();
      refreshSources();
      refreshTriggers();
      refreshPolls();
      refreshAudit();
      setInterval(function () { refreshSources(); refreshPolls(); refreshAudit(); }, 10000);
    }).catch(function (e) { if (token) { notice(e.message); } });
  }

  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    if (!token) { return; }
    sessionStorage.setItem(KEY, token);
    start();
  });
  var clip = $("clip");
  if (clip) {
    clip.addEventListener("click", function () {
      var creator = $("clip-creator").value;
      if (!creator) { notice("no creator to clip"); return; }
      change("/api/v1/clips/create", { creator: creator, duration_s: 30 }, function (answer) { notice(answer.detail); });
    });
  }
  $("sign-out").addEventListener("click", function () { signOut(""); });
  if (token) { start(); } else { signOut(""); }
})();
