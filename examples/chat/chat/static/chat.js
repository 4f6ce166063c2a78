"use strict";

// The chat page: one WebSocket to /ws?room=NAME, the room of the page's
// own ?room= ("lobby" without one). Lines go out as JSON
// {"name": ..., "text": ...}; everything that comes back has the same form,
// an empty name marking the server's announcements.
(() => {
  const log = document.getElementById("log");
  const status = document.getElementById("status");
  const form = document.getElementById("form");
  const name = document.getElementById("name");
  const text = document.getElementById("text");

  const room = new URLSearchParams(location.search).get("room") || "lobby";
  document.getElementById("room").textContent = room;
  document.title = `Chat: ${room}`;
  const socket = new WebSocket(`ws://${location.host}/ws?room=${encodeURIComponent(room)}`);
  const waiting = []; // lines sent before the connection was open

  function show(msg) {
    const item = document.createElement("li");
    if (msg.name === "") {
      item.className = "notice";
      item.textContent = msg.text;
    } else {
      const who = document.createElement("b");
      who.textContent = msg.name;
      item.append(who, ": ", msg.text); // text nodes: nothing is parsed as HTML
    }
    log.append(item);
    log.scrollTop = log.scrollHeight;
  }

  socket.addEventListener("open", () => {
    status.textContent = "connected";
    for (const line of waiting.splice(0)) {
      socket.send(line);
    }
  });
  socket.addEventListener("message", (event) => {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    if (typeof msg.name === "string" && typeof msg.text === "string") {
      show(msg);
    }
  });
  socket.addEventListener("close", (event) => {
    status.textContent = `disconnected (${event.code})`;
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const line = text.value.trim();
    if (line === "") {
      return;
    }
    const data = JSON.stringify({name: name.value.trim(), text: line});
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(data);
    } else if (socket.readyState === WebSocket.CONNECTING) {
      waiting.push(data);
    } else {
      show({name: "", text: "not sent: disconnected"});
      return;
    }
    text.value = "";
    text.focus();
  });
})();
