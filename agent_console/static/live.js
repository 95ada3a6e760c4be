// The office's live events (/ws/events) for a staff page: one socket, reconnected with backoff
// (0.5 s doubling to 10 s) unless the office closed it for an ended session (4401). Malformed
// frames are dropped. `onState("online" | "offline")` lets the page show the link and reload
// what it may have missed while offline.
export function liveEvents({ onEvent, onState }) {
  let backoff = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/events`);
    ws.onopen = () => {
      backoff = 500;
      onState("online");
    };
    ws.onmessage = (event) => {
      let ev;
      try {
        ev = JSON.parse(event.data);
      } catch {
        return;
      }
      onEvent(ev);
    };
    ws.onclose = (event) => {
      onState("offline");
      if (event.code === 4401) return;
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }
  connect();
}
