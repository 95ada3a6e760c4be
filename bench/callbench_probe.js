// Measurement hooks for bench/bench_call_browser.py, injected with Playwright's add_init_script
// before any page script runs (init scripts are not bound by the page's CSP). The page itself is
// not changed. Same script on the agent console and on the bare baseline page.
//
// - Clicks: every click's target id and Date.now(), captured before the page's handlers run;
//   fetches (path, start, end) and signaling WebSocket messages (type, time) for the set-up stages.
// - Camera: getUserMedia's video is replaced by a 640×480@30 canvas stream (a moving pattern) with
//   Date.now() drawn into the top rows as 16×16 black/white blocks, 32 a row (the layout of
//   kiosk.media.stamp at twice the block size, so it survives Chromium scaling its sent video down
//   under load; callbench_probe.read_scaled_stamp reads it at any size): a 24-bit frame counter,
//   then 40-bit milliseconds. Audio is an oscillator. The canvas is only
//   redrawn while a peer connection is open, so an idle page sends nothing and costs nothing.
// - Peer connections: RTCPeerConnection is wrapped (set-up milestones: created, setRemoteDescription
//   called and resolved, answer created, setLocalDescription resolved, connected); for each received video track a hidden <video>
//   plays it and requestVideoFrameCallback reads every presented frame: the first one's Date.now()
//   (first decoded frame) and, per frame, the stamp drawn by the sender → latency in ms.
(() => {
  const W = 640;
  const H = 480;
  const BLOCK = 8; // stamps drawn by the kiosk (kiosk.media.stamp)
  const SENT_BLOCK = 16; // stamps drawn here
  const BITS = 64;
  const MOD40 = 2 ** 40;
  const bench = {
    clicks: [],
    peers: [], // {created, first, closed}
    latency: [], // [receive wall ms, latency ms, counter]
    fetches: [], // {path, start, end}
    messages: [], // {dir: "in"|"out", type, t}: signaling WebSocket messages
    unreadable: 0,
    sent: 0,
  };
  window.__bench = bench;
  bench.take = () => {
    const peers = bench.peers.map(({ created, remote, remote_done, answer, local_done, connected, first, closed }) => ({ created, remote, remote_done, answer, local_done, connected, first, closed }));
    const out = { clicks: bench.clicks, fetches: bench.fetches, messages: bench.messages, peers, latency: bench.latency, unreadable: bench.unreadable, sent: bench.sent };
    bench.clicks = [];
    bench.fetches = [];
    bench.messages = [];
    bench.latency = [];
    bench.unreadable = 0;
    return out;
  };
  bench.now = () => Date.now();
  // Chromium's own view of the newest peer connection's video (inbound and outbound).
  bench.stats = async () => {
    const record = bench.peers[bench.peers.length - 1];
    if (!record) return null;
    const out = {};
    (await record.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        out.in_fps = s.framesPerSecond ?? null;
        out.in_frames_decoded = s.framesDecoded;
        out.in_frames_dropped = s.framesDropped ?? 0;
        out.in_freezes = s.freezeCount ?? 0;
        out.in_jitter_buffer_ms = s.jitterBufferEmittedCount ? (1000 * s.jitterBufferDelay) / s.jitterBufferEmittedCount : null;
        out.in_jitter_buffer_total_s = s.jitterBufferDelay;
        out.in_jitter_buffer_count = s.jitterBufferEmittedCount;
        out.in_packets_lost = s.packetsLost;
      }
      if (s.type === "outbound-rtp" && s.kind === "video") {
        out.out_width = s.frameWidth ?? null;
        out.out_fps = s.framesPerSecond ?? null;
        out.out_limitation = s.qualityLimitationReason;
        out.out_target_bitrate = s.targetBitrate ?? null;
      }
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.currentRoundTripTime !== undefined) {
        out.rtt_ms = 1000 * s.currentRoundTripTime;
      }
    });
    return out;
  };

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[id]") : null;
    bench.clicks.push({ id: target ? target.id : "", t: Date.now() });
  }, true);
  document.addEventListener("keydown", (event) => {
    bench.clicks.push({ id: `key:${event.key}`, t: Date.now() });
  }, true);

  // Each fetch's path with its start and end (for the set-up breakdown).
  const nativeFetch = window.fetch;
  window.fetch = async (input, init) => {
    const start = Date.now();
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    try {
      return await nativeFetch(input, init);
    } finally {
      bench.fetches.push({ path: url.pathname, start, end: Date.now() });
    }
  };

  // Signaling messages (JSON with a "type") in and out, by type, sub-typed by state or SDP type.
  const kindOf = (data) => {
    try {
      const m = JSON.parse(data);
      if (m.type === "ping" || m.type === "pong") return null;
      return m.type + (m.sdp_type ? `:${m.sdp_type}` : m.state ? `:${m.state}` : "");
    } catch {
      return null;
    }
  };
  const NativeWebSocket = window.WebSocket;
  class BenchWebSocket extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const type = typeof event.data === "string" ? kindOf(event.data) : null;
        if (type) bench.messages.push({ dir: "in", type, t: Date.now() });
      });
    }
    send(data) {
      const type = typeof data === "string" ? kindOf(data) : null;
      if (type) bench.messages.push({ dir: "out", type, t: Date.now() });
      super.send(data);
    }
  }
  window.WebSocket = BenchWebSocket;

  // --- stamped camera --------------------------------------------------------------------------
  const open = () => bench.peers.some((p) => p.pc.connectionState !== "closed" && p.pc.signalingState !== "closed");
  let stream = null;
  function stampedStream() {
    if (stream) return stream;
    const canvas = document.createElement("canvas");
    canvas.width = W;
    canvas.height = H;
    const g = canvas.getContext("2d");
    let n = 0;
    const draw = () => {
      if (!open()) return;
      const grad = g.createLinearGradient(0, 0, W, H);
      grad.addColorStop(0, `hsl(${(n * 3) % 360}, 70%, 45%)`);
      grad.addColorStop(1, `hsl(${(n * 3 + 120) % 360}, 70%, 55%)`);
      g.fillStyle = grad;
      g.fillRect(0, 0, W, H);
      g.fillStyle = "#fff";
      g.fillRect((n * 6) % (W - 40), 2 * SENT_BLOCK + 8, 40, H - 2 * SENT_BLOCK - 8);
      const ms = Date.now() % MOD40;
      const counter = n & 0xffffff;
      for (let bit = 0; bit < BITS; bit++) {
        let on;
        if (bit < 24) on = (counter >> (23 - bit)) & 1;
        else on = Math.floor(ms / 2 ** (63 - bit)) % 2;
        g.fillStyle = on ? "#fff" : "#000";
        g.fillRect((bit % 32) * SENT_BLOCK, Math.floor(bit / 32) * SENT_BLOCK, SENT_BLOCK, SENT_BLOCK);
      }
      n++;
      bench.sent = n;
    };
    setInterval(draw, 1000 / 30);
    const video = canvas.captureStream(30).getVideoTracks()[0];
    const audio = new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    gain.gain.value = 0.05;
    const sink = audio.createMediaStreamDestination();
    osc.connect(gain).connect(sink);
    osc.start();
    stream = new MediaStream([video, ...sink.stream.getAudioTracks()]);
    return stream;
  }
  if (navigator.mediaDevices) {
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const s = stampedStream();
      const tracks = [];
      if (constraints && constraints.video) tracks.push(...s.getVideoTracks().map((t) => t.clone()));
      if (constraints && constraints.audio) tracks.push(...s.getAudioTracks().map((t) => t.clone()));
      return new MediaStream(tracks);
    };
  }

  // --- received video: first frame and stamps -----------------------------------------------------
  const reader = document.createElement("canvas");
  reader.width = 32 * BLOCK;
  reader.height = 2 * BLOCK;
  const rg = reader.getContext("2d", { willReadFrequently: true });

  function readStamp(video) {
    if (video.videoWidth < 32 * BLOCK || video.videoHeight < 2 * BLOCK) return null;
    rg.drawImage(video, 0, 0, 32 * BLOCK, 2 * BLOCK, 0, 0, 32 * BLOCK, 2 * BLOCK);
    const px = rg.getImageData(0, 0, 32 * BLOCK, 2 * BLOCK).data;
    let counter = 0;
    let ms = 0;
    for (let bit = 0; bit < BITS; bit++) {
      const cx = (bit % 32) * BLOCK + BLOCK / 2;
      const cy = Math.floor(bit / 32) * BLOCK + BLOCK / 2;
      let sum = 0;
      for (let dy = -2; dy < 2; dy++) {
        for (let dx = -2; dx < 2; dx++) {
          const i = ((cy + dy) * 32 * BLOCK + (cx + dx)) * 4;
          sum += (px[i] + px[i + 1] + px[i + 2]) / 3;
        }
      }
      const on = sum / 16 > 127 ? 1 : 0;
      if (bit < 24) counter = counter * 2 + on;
      else ms = ms * 2 + on;
    }
    return { counter, ms };
  }

  function watch(track, record) {
    const video = document.createElement("video");
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.style.cssText = "position:fixed;left:0;top:0;width:4px;height:4px;opacity:0.01;pointer-events:none";
    video.srcObject = new MediaStream([track]);
    (document.body || document.documentElement).appendChild(video);
    const onFrame = () => {
      const now = Date.now();
      if (record.first === null) record.first = now;
      const stamp = readStamp(video);
      if (stamp) {
        const latency = (((now % MOD40) - stamp.ms) % MOD40 + MOD40) % MOD40;
        if (latency < 10000) bench.latency.push([now, latency, stamp.counter]);
        else bench.unreadable++;
      }
      if (track.readyState === "live" && record.pc.connectionState !== "closed") video.requestVideoFrameCallback(onFrame);
      else video.remove();
    };
    video.requestVideoFrameCallback(onFrame);
    track.addEventListener("ended", () => video.remove());
    video.play().catch(() => {});
  }

  const Native = window.RTCPeerConnection;
  class BenchPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      const record = { pc: this, created: Date.now(), remote: null, remote_done: null, answer: null, local_done: null, connected: null, first: null, closed: null };
      bench.peers.push(record);
      this.addEventListener("track", (event) => {
        if (event.track.kind === "video") watch(event.track, record);
      });
      this.addEventListener("connectionstatechange", () => {
        if (this.connectionState === "closed" && record.closed === null) record.closed = Date.now();
        if (this.connectionState === "connected" && record.connected === null) record.connected = Date.now();
      });
    }
    async setRemoteDescription(description) {
      const record = bench.peers.find((p) => p.pc === this);
      if (record && record.remote === null) record.remote = Date.now();
      const result = await super.setRemoteDescription(description);
      if (record && record.remote_done === null) record.remote_done = Date.now();
      return result;
    }
    async createAnswer(...args) {
      const answer = await super.createAnswer(...args);
      const record = bench.peers.find((p) => p.pc === this);
      if (record && record.answer === null) record.answer = Date.now();
      return answer;
    }
    async setLocalDescription(...args) {
      const result = await super.setLocalDescription(...args);
      const record = bench.peers.find((p) => p.pc === this);
      if (record && record.local_done === null) record.local_done = Date.now();
      return result;
    }
    close() {
      const record = bench.peers.find((p) => p.pc === this);
      if (record && record.closed === null) record.closed = Date.now();
      super.close();
    }
  }
  window.RTCPeerConnection = BenchPeerConnection;
})();
