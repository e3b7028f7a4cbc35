#!/usr/bin/env node
// A word counter: an ss extension that keeps its own state (words seen per chatter since it
// started) and answers `!words` with the asker's count. The protocol is one JSON object per line
// on stdin and stdout: {"ready": true} after the hello, then an answer with each request's id.
"use strict";
const readline = require("node:readline");

const words = new Map();

function answer(request) {
  const event = request.event;
  const who = event.author.login;
  const text = event.text || "";
  if (text.startsWith("!words")) {
    const n = words.get(who) || 0;
    return { id: request.id, effects: [{ type: "reply", text: `${event.author.display_name}: ${n} words so far` }] };
  }
  const n = text.split(/\s+/).filter(Boolean).length;
  words.set(who, (words.get(who) || 0) + n);
  // Counting is silent; a tally keeps the channel's total in ss's store as well.
  return { id: request.id, effects: [{ type: "tally", tally: "words", amount: n }] };
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const message = JSON.parse(line);
  let reply;
  if (message.hello) {
    reply = { ready: true };
  } else {
    try {
      reply = answer(message);
    } catch (e) {
      reply = { id: message.id, error: String(e).slice(0, 200) };
    }
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
