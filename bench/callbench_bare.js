// Baseline page for bench/bench_call_browser.py: the same roles as the agent console (the aiortc
// peer offers with all its candidates, this page answers at once and trickles its candidates), with
// signaling over plain HTTP to the bare peer (callbench_bare.py) and nothing else.
const $ = (id) => document.getElementById(id);
const post = (path, body) =>
  fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });
const local = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
let pc = null;

$("call").addEventListener("click", async () => {
  $("call").disabled = true;
  const offer = await (await post("/offer")).json();
  pc = new RTCPeerConnection();
  for (const track of local.getTracks()) pc.addTrack(track, local);
  pc.addEventListener("track", (event) => {
    if (event.track.kind === "video") $("remote").srcObject = event.streams[0] || new MediaStream([event.track]);
  });
  pc.addEventListener("icecandidate", (event) => {
    const c = event.candidate;
    post("/candidate", c && c.candidate ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : null);
  });
  pc.addEventListener("connectionstatechange", () => { $("state").textContent = pc.connectionState; });
  await pc.setRemoteDescription(offer);
  await pc.setLocalDescription(await pc.createAnswer());
  await post("/answer", { sdp: pc.localDescription.sdp });
  $("hangup").disabled = false;
});

$("hangup").addEventListener("click", async () => {
  $("hangup").disabled = true;
  if (pc) pc.close();
  pc = null;
  $("remote").srcObject = null;
  $("state").textContent = "ended";
  await post("/hangup");
  $("call").disabled = false;
});

$("call").disabled = false;
$("state").textContent = "ready";
