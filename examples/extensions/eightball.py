#!/usr/bin/env python3
"""!8ball: an ss extension answering from a fixed list, chosen by the event's id.

The same message always gets the same answer (no random number is drawn), so a replay that calls
it again agrees with the live run. The whole protocol: one JSON object per line on stdin and
stdout. Say {"ready": true} after the hello, then answer each request with its id.
"""
import hashlib
import json
import sys

ANSWERS = [
    "It is certain.",
    "Without a doubt.",
    "Yes, definitely.",
    "Most likely.",
    "Ask again later.",
    "Cannot predict now.",
    "Don't count on it.",
    "My sources say no.",
    "Very doubtful.",
]


def answer(request):
    event = request["event"]
    question = event.get("text", "").partition(" ")[2].strip()
    if not question:
        return {"id": request["id"], "effects": [{"type": "reply", "text": "Ask me a question: !8ball will it rain?"}]}
    digest = hashlib.sha256(event["message_id"].encode()).digest()
    text = ANSWERS[int.from_bytes(digest[:4], "big") % len(ANSWERS)]
    return {"id": request["id"], "effects": [{"type": "reply", "text": "🎱 " + text}]}


def main():
    for line in sys.stdin:
        message = json.loads(line)
        if "hello" in message:
            reply = {"ready": True}
        else:
            try:
                reply = answer(message)
            except Exception as e:  # an error answer, not a dead extension
                reply = {"id": message.get("id", 0), "error": str(e)[:200]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
