// StreamSuites chat pages: one renderer for the replay window, the OBS overlay and the live chat
// window. Everything in a chat event is untrusted: the DOM is built with createElement,
// textContent and attributes only (chat data is never parsed as HTML), colours must be #RRGGBB, and emote images
// come only from the fixed CDN URL of the event's platform, built from an id that matches that
// platform's strict pattern. The page's settings (which page, the CDN table, the caps) are in the
// data-ss attribute of <body>, written by the runtime; recorded events, for the static pages, are
// a JSON data block (id ss-events, of type application/json), which is never executed.
(function () {
  "use strict";

  var THEMES = ["default", "midnight", "slate"];
  var THEME_KEY = "ss-theme";
  var COLOR = /^#[0-9A-Fa-f]{6}$/;
  var BADGE_NAME = /^[a-z0-9_-]{1,32}$/;
  var NAME_COLORS = ["#e05b5b", "#3a8ee6", "#2fa84f", "#c76dd8", "#e08a2b", "#1fa5a0", "#d4477f", "#7d7de8"];

  var body = document.body;
  var settings = parseJson(body.getAttribute("data-ss")) || {};
  var params = new URLSearchParams(window.location.search);
  var page = settings.page || "chat";

  function parseJson(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // ---- Themes: ?theme= first, then the one remembered, then default; the menu remembers. ----

  function storedTheme() {
    try {
      return window.localStorage.getItem(THEME_KEY);
    } catch (e) {
      return null;
    }
  }

  function applyTheme(name, remember) {
    if (THEMES.indexOf(name) < 0) name = "default";
    document.documentElement.setAttribute("data-theme", name);
    var menu = document.getElementById("ss-theme");
    if (menu) menu.value = name;
    if (remember) {
      try {
        window.localStorage.setItem(THEME_KEY, name);
      } catch (e) {
        /* storage off: the theme still applies to this page */
      }
    }
  }

  var asked = params.get("theme");
  if (THEMES.indexOf(asked) >= 0) applyTheme(asked, true);
  else applyTheme(storedTheme() || "default", false);
  var themeMenu = document.getElementById("ss-theme");
  if (themeMenu) {
    themeMenu.addEventListener("change", function () {
      applyTheme(themeMenu.value, true);
    });
  }

  // ---- Reading untrusted fields ----

  function str(value) {
    return typeof value === "string" ? value : value === undefined || value === null ? "" : String(value);
  }

  function extras(event) {
    return event && typeof event.extras === "object" && event.extras !== null ? event.extras : {};
  }

  function count(value) {
    var n = Number(value);
    return isFinite(n) && n >= 0 ? Math.floor(n) : null;
  }

  function author(event) {
    var a = event && typeof event.author === "object" && event.author !== null ? event.author : {};
    var roles = typeof a.roles === "object" && a.roles !== null ? a.roles : {};
    return {
      id: str(a.id),
      name: str(a.display_name) || str(a.login) || "?",
      login: str(a.login),
      roles: roles
    };
  }

  function nameColor(event, who) {
    var color = str(extras(event).color);
    if (COLOR.test(color)) return color;
    var h = 0;
    var key = who.login || who.name;
    for (var i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
    return NAME_COLORS[h % NAME_COLORS.length];
  }

  // The emote image URL for an id, or null: the platform must have a CDN entry and the id must match
  // its pattern in full; the id is the only part of the URL that comes from the event.
  function emoteUrl(platform, id) {
    if (settings.images === false) return null;
    var cdn = settings.emotes && Object.prototype.hasOwnProperty.call(settings.emotes, platform) ? settings.emotes[platform] : null;
    if (!cdn || typeof cdn.url !== "string" || typeof cdn.id !== "string") return null;
    if (!new RegExp("^(?:" + cdn.id + ")$").test(id)) return null;
    return cdn.url.replace("{id}", encodeURIComponent(id));
  }

  // ---- Rendering one event ----

  var ROLE_BADGES = [
    ["broadcaster", "broadcaster", "HOST"],
    ["moderator", "moderator", "MOD"],
    ["vip", "vip", "VIP"],
    ["subscriber", "subscriber", "SUB"]
  ];

  function badges(event, who) {
    var box = el("span", "ss-badges");
    var shown = {};
    ROLE_BADGES.forEach(function (r) {
      if (who.roles[r[0]] === true) {
        var b = el("span", "ss-badge ss-badge-" + r[1], r[2]);
        b.setAttribute("title", r[1]);
        box.appendChild(b);
        shown[r[1]] = true;
      }
    });
    var list = extras(event).badges;
    if (Array.isArray(list)) {
      list.slice(0, 6).forEach(function (entry) {
        var name = str(entry).split("/")[0];
        if (name === "broadcaster" || name === "moderator" || name === "vip" || name === "subscriber" || name === "founder") return;
        if (!BADGE_NAME.test(name) || shown[name]) return;
        shown[name] = true;
        var b = el("span", "ss-badge", name.replace(/[-_]/g, " "));
        b.setAttribute("title", name);
        box.appendChild(b);
      });
    }
    return box;
  }

  // The text with its emotes: ranges are inclusive Unicode code-point indices into the text.
  function messageText(event) {
    var span = el("span", "ss-text");
    var chars = Array.from(str(event.text));
    var emotes = Array.isArray(event.emotes) ? event.emotes.slice() : [];
    emotes = emotes.filter(function (e) {
      return e && Number.isInteger(e.start) && Number.isInteger(e.end) && e.start >= 0 && e.end >= e.start && e.end < chars.length;
    });
    emotes.sort(function (a, b) {
      return a.start - b.start;
    });
    var at = 0;
    emotes.forEach(function (e) {
      if (e.start < at) return; // overlaps the previous one
      var name = chars.slice(e.start, e.end + 1).join("");
      var url = emoteUrl(str(event.platform), str(e.id));
      if (e.start > at) span.appendChild(document.createTextNode(chars.slice(at, e.start).join("")));
      if (url) {
        var img = el("img", "ss-emote");
        img.setAttribute("alt", name);
        img.setAttribute("title", name);
        img.setAttribute("referrerpolicy", "no-referrer");
        img.setAttribute("src", url);
        span.appendChild(img);
      } else {
        span.appendChild(el("span", "ss-emote-text", name));
      }
      at = e.end + 1;
    });
    if (at < chars.length) span.appendChild(document.createTextNode(chars.slice(at).join("")));
    return span;
  }

  function months(x) {
    return count(x.cumulative_months) || count(x.months) || count(x.sub_months);
  }

  // The typed fields of a stream event (an object; empty for a plain message).
  function detail(event) {
    var d = event && event.detail;
    return d && typeof d === "object" ? d : {};
  }

  // Events recorded before subscriptions had typed fields name their kind only in extras.
  var LEGACY_SUB_KINDS = { resub: "resub", subgift: "gift", anonsubgift: "gift", submysterygift: "community_gift",
    anonsubmysterygift: "community_gift", subscription_renewal: "resub", gifted_subscriptions: "community_gift" };

  function subscriptionLine(d, x, who) {
    var n;
    var kind = str(d.kind) || LEGACY_SUB_KINDS[str(x.event)] || (count(x.count) ? "community_gift" : "");
    if (!d.count && count(x.count)) d = { kind: kind, count: count(x.count), anonymous: d.anonymous };
    switch (kind) {
      case "resub":
        n = count(d.months) || months(x);
        return ["Resub", who.name + " resubscribed" + (n ? " for " + n + " months" : "")];
      case "gift":
        var to = d.recipient && typeof d.recipient === "object" ? str(d.recipient.display_name) : "";
        return ["Gift", (d.anonymous ? "An anonymous gifter" : who.name) + " gifted a sub" + (to ? " to " + to : "")];
      case "community_gift":
        n = count(d.count) || 1;
        return ["Gift", (d.anonymous ? "An anonymous gifter" : who.name) + " gifted " + n + (n === 1 ? " sub" : " subs")];
      case "prime_upgrade":
        return ["Sub", who.name + " continued their Prime sub"];
      case "gift_upgrade":
        return ["Sub", who.name + " continued their gifted sub"];
      default:
        return ["Sub", who.name + " subscribed" + (str(d.tier) === "prime" || str(x.sub_plan || x.plan) === "Prime" ? " with Prime" : "")];
    }
  }

  function moneyLine(label, d, x, who) {
    var amount = str(d.display) || str(x.amount_display);
    if (!amount && count(d.amount) !== null) amount = String(d.amount) + " " + str(d.currency);
    if (!amount && count(x.bits)) amount = count(x.bits) + " bits";
    return [label, who.name + (amount ? " sent " + amount.trim() : " sent a tip")];
  }

  // The label and sentence of an event that is not a plain message; null for a plain message.
  function eventLine(event, who) {
    var x = extras(event);
    var d = detail(event);
    var n;
    switch (event.kind) {
      case "subscription":
        return subscriptionLine(d, x, who);
      case "raid":
      case "host":
        n = count(d.viewers);
        if (n === null) n = count(x.viewers);
        return [event.kind === "raid" ? "Raid" : "Host", who.name + (event.kind === "raid" ? " raided" : " is hosting") + (n !== null ? " with " + n + " viewers" : "")];
      case "cheer":
        n = count(d.amount);
        if (n === null) n = count(x.bits);
        return ["Cheer", who.name + " cheered" + (n !== null ? " " + n + " bits" : "")];
      case "super_chat":
        return moneyLine("Super Chat", d, x, who);
      case "tip":
        // Stores from before typed fields recorded cheers as tips with bits in extras.
        if (d.amount === undefined && count(x.bits)) return ["Cheer", who.name + " cheered " + count(x.bits) + " bits"];
        return moneyLine("Tip", d, x, who);
      case "follow":
        return ["Follow", who.name + " followed"];
      case "redemption":
        return ["Redeemed", who.name + " redeemed " + (str(d.title) || "a reward")];
      case "membership":
        return ["Member", who.name + (str(d.kind) === "gift" ? " gifted " + (count(d.count) || 1) + " memberships" : " became a member")];
      case "announcement":
        return ["Announcement", who.name];
      default:
        return null;
    }
  }

  function clock(ms) {
    var d = new Date(ms);
    if (isNaN(d.getTime())) return "";
    return d.toISOString().slice(11, 19);
  }

  function renderLine(event, showTime) {
    var who = author(event);
    var special = eventLine(event, who);
    var line = el("div", "ss-line" + (special ? " ss-event ss-kind-" + str(event.kind) : ""));
    line.setAttribute("data-id", str(event.message_id));
    line.setAttribute("data-kind", str(event.kind));
    if (showTime) line.appendChild(el("span", "ss-time", clock(Date.parse(str(event.timestamp)))));
    if (special) {
      line.appendChild(el("span", "ss-label", special[0]));
      line.appendChild(el("span", "ss-summary", special[1]));
      if (str(event.text)) {
        line.appendChild(el("span", "ss-sep", " · "));
        line.appendChild(messageText(event));
      }
      return line;
    }
    line.appendChild(badges(event, who));
    var name = el("span", "ss-name", who.name);
    name.style.color = nameColor(event, who);
    line.appendChild(name);
    line.appendChild(el("span", "ss-sep", extras(event).action === true ? " " : ": "));
    line.appendChild(messageText(event));
    return line;
  }

  // ---- The chat: lines in order, moderation applied, a cap on the lines kept ----

  function Chat(list, cap, showTime, removeModerated) {
    this.list = list;
    this.cap = cap;
    this.showTime = showTime;
    this.removeModerated = removeModerated;
    this.byMessage = new Map();
    this.byUser = new Map();
  }

  Chat.prototype.clear = function () {
    while (this.list.firstChild) this.list.removeChild(this.list.firstChild);
    this.byMessage.clear();
    this.byUser.clear();
  };

  Chat.prototype.moderate = function (line) {
    if (!line || !line.parentNode) return;
    if (this.removeModerated) {
      this.forget(line);
      line.parentNode.removeChild(line);
      return;
    }
    line.classList.add("ss-deleted");
    var text = line.querySelector(".ss-text");
    if (text) {
      while (text.firstChild) text.removeChild(text.firstChild);
      text.textContent = "<message deleted>";
    }
  };

  Chat.prototype.forget = function (line) {
    this.byMessage.delete(line.getAttribute("data-key"));
    var users = this.byUser.get(line.getAttribute("data-user"));
    if (users) {
      users.delete(line);
      if (users.size === 0) this.byUser.delete(line.getAttribute("data-user"));
    }
  };

  Chat.prototype.add = function (event) {
    if (!event || typeof event !== "object") return;
    var platform = str(event.platform);
    var x = extras(event);
    switch (event.kind) {
      case "deletion":
        this.moderate(this.byMessage.get(platform + ":" + str(x.target_msg_id || x.target_message_id)));
        return;
      case "timeout":
      case "ban":
        var user = platform + ":" + str(x.target_user_id || author(event).id);
        var lines = this.byUser.get(user);
        if (lines) Array.from(lines).forEach(this.moderate, this);
        return;
      case "chat_clear":
        this.clear();
        return;
      case "room_state":
      case "notice":
      case "other":
        return;
    }
    var line = renderLine(event, this.showTime);
    var key = platform + ":" + str(event.message_id);
    var userKey = platform + ":" + author(event).id;
    line.setAttribute("data-key", key);
    line.setAttribute("data-user", userKey);
    this.byMessage.set(key, line);
    if (!this.byUser.has(userKey)) this.byUser.set(userKey, new Set());
    this.byUser.get(userKey).add(line);
    this.list.appendChild(line);
    while (this.list.childElementCount > this.cap) {
      var oldest = this.list.firstElementChild;
      this.forget(oldest);
      this.list.removeChild(oldest);
    }
  };

  Chat.prototype.note = function (text) {
    this.list.appendChild(el("div", "ss-line ss-gap", text));
  };

  var list = document.getElementById("ss-chat");
  var overlay = page === "overlay";
  var cap = count(params.get("max")) || settings.max_lines || 200;
  var chat = new Chat(list, Math.min(cap, settings.max_lines || 200), page === "replay", overlay);
  // For operators and tests: what the page holds (lines and the entries indexing them).
  window.ssChat = {
    page: page,
    received: 0,
    lines: function () {
      return list.childElementCount;
    },
    tracked: function () {
      return chat.byMessage.size + chat.byUser.size;
    }
  };

  // ---- Live: the runtime's /events stream; the key of the page URL is carried on ----

  function live() {
    var url = "/events";
    var key = params.get("key");
    if (key) url += "?key=" + encodeURIComponent(key);
    var status = document.getElementById("ss-status");
    var source = new EventSource(url);
    source.addEventListener("open", function () {
      document.documentElement.setAttribute("data-feed", "open");
      if (status) status.textContent = "live";
    });
    source.addEventListener("error", function () {
      document.documentElement.setAttribute("data-feed", "reconnecting");
      if (status) status.textContent = "reconnecting…";
    });
    source.addEventListener("chat", function (message) {
      var event = parseJson(message.data);
      if (!event) return;
      window.ssChat.received += 1;
      chat.add(event);
    });
    source.addEventListener("gap", function (message) {
      var gap = parseJson(message.data) || {};
      if (!overlay) chat.note(gap.missed === null ? "(events missed)" : "(" + (count(gap.missed) || 0) + " events missed)");
    });
  }

  // ---- Recorded: play the embedded events on their own clock ----

  function recorded() {
    var block = document.getElementById("ss-events");
    var raw = parseJson(block ? block.textContent : "[]");
    var events = (Array.isArray(raw) ? raw : [])
      .map(function (e, i) {
        return { at: Date.parse(str(e && e.timestamp)), i: i, event: e };
      })
      .filter(function (e) {
        return !isNaN(e.at);
      });
    events.sort(function (a, b) {
      return a.at - b.at || a.i - b.i;
    });
    var first = events.length ? events[0].at : 0;
    var span = events.length ? events[events.length - 1].at - first : 0;
    var state = { pos: 0, next: 0, playing: false, speed: 1, last: 0 };

    var seek = document.getElementById("ss-seek");
    var clockText = document.getElementById("ss-clock");
    var playButton = document.getElementById("ss-play");
    var speedButtons = Array.from(document.querySelectorAll("[data-speed]"));
    if (seek) seek.max = String(span);

    function offset(ms) {
      var s = Math.floor(ms / 1000);
      var pad = function (n) {
        return (n < 10 ? "0" : "") + n;
      };
      return pad(Math.floor(s / 3600)) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
    }

    function show() {
      if (seek) seek.value = String(state.pos);
      if (clockText) clockText.textContent = offset(state.pos) + " / " + offset(span) + "  (" + clock(first + state.pos) + " UTC)";
      if (playButton) {
        playButton.textContent = state.playing ? "Pause" : "Play";
        playButton.setAttribute("aria-pressed", state.playing ? "true" : "false");
      }
      speedButtons.forEach(function (b) {
        b.setAttribute("aria-pressed", Number(b.getAttribute("data-speed")) === state.speed ? "true" : "false");
      });
      document.documentElement.setAttribute("data-position", String(state.pos));
    }

    function advance() {
      while (state.next < events.length && events[state.next].at - first <= state.pos) {
        chat.add(events[state.next].event);
        state.next += 1;
      }
      if (state.next >= events.length && state.pos >= span) {
        state.playing = false;
        document.documentElement.setAttribute("data-ended", "true");
      }
      show();
    }

    function seekTo(ms) {
      state.pos = Math.max(0, Math.min(span, ms));
      chat.clear();
      state.next = 0;
      document.documentElement.removeAttribute("data-ended");
      advance();
    }

    function play(on) {
      state.playing = on && (state.pos < span || state.next < events.length);
      state.last = performance.now();
      show();
    }

    // Accepts 90 (seconds), 1:30, 1:02:03 (an offset into the stream) or 2024-01-01T20:15:00Z.
    function parseJump(text) {
      text = text.trim();
      if (/^\d+(:\d{1,2}){0,2}$/.test(text)) {
        return text.split(":").reduce(function (acc, part) {
          return acc * 60 + Number(part);
        }, 0) * 1000;
      }
      var at = Date.parse(text);
      return isNaN(at) ? null : at - first;
    }

    window.setInterval(function () {
      if (!state.playing) return;
      var now = performance.now();
      state.pos = Math.min(span, state.pos + (now - state.last) * state.speed);
      state.last = now;
      advance();
    }, 100);

    if (playButton) {
      playButton.addEventListener("click", function () {
        if (!state.playing && state.pos >= span) seekTo(0); // at the end, Play starts again
        play(!state.playing);
      });
    }
    speedButtons.forEach(function (b) {
      b.addEventListener("click", function () {
        state.speed = Number(b.getAttribute("data-speed")) || 1;
        show();
      });
    });
    if (seek) {
      seek.addEventListener("input", function () {
        seekTo(Number(seek.value));
      });
    }
    var jump = document.getElementById("ss-jump");
    var jumpForm = document.getElementById("ss-jump-form");
    if (jump && jumpForm) {
      jumpForm.addEventListener("submit", function (e) {
        e.preventDefault();
        var to = parseJump(jump.value);
        if (to !== null) seekTo(to);
      });
    }

    var speed = Number(params.get("speed"));
    if (speed === 1 || speed === 2 || speed === 4) state.speed = speed;
    var start = params.get("t");
    seekTo(start === "end" ? span : parseJump(start || "0") || 0);
    play(params.get("paused") === null && start !== "end");
  }

  if (settings.live) live();
  else recorded();
})();
