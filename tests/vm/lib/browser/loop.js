'use strict';
/*
 * getDisplayMedia -> RTCPeerConnection -> RTCPeerConnection -> <video> -> canvas -> frame
 * numbers. What the driver reads, window.kmscast:
 *   state      idle | asking | connecting | receiving | done | error; at done the streams
 *              still run until the driver calls window.kmscastStop()
 *   error      the exception's name and message when state is error
 *   captured   the shared track's getSettings() and label when getDisplayMedia resolved
 *   capturedEnd  its getSettings() at the end (Chromium reports the X screen's size until
 *              the first frame, then the frame's)
 *   frames     [[frame number mod 4096, ms since the first decoded frame, width, height],
 *              ...] of every decoded received frame, over ?warmup= (0) plus ?seconds=
 *              (20) seconds from the first one
 *   bad        received frames that did not decode (grey blocks, wrong check), and why
 *   seen       received frames the page saw
 *   feeder     how it saw them: MediaStreamTrackProcessor or requestVideoFrameCallback
 *   local      with ?local=1, the same decoding of the shared track before WebRTC: {seen,
 *              frames: [frame number mod 4096, ...], bad}. A frame that is broken here
 *              was broken by the capture (the node or the browser's capturer), not the codec.
 *   stats      outbound-rtp and inbound-rtp of the two connections at the end
 */
const R = (window.kmscast = {
	state: 'idle', error: null, captured: null, capturedEnd: null, frames: [], bad: {}, seen: 0, feeder: null,
	local: { seen: 0, frames: [], bad: {} }, stats: null, log: [],
});
const params = new URLSearchParams(location.search);
const seconds = Number(params.get('seconds') || 20);
/* ?warmup=S: the page records S seconds more, which the judge leaves out (browser-check.py). */
const warmup = Number(params.get('warmup') || 0);
/* ?local=1: also decode the shared track before WebRTC (costs the browser a second decode). */
const decodeLocal = params.get('local') === '1';

/* Must match tests/tools/pattern.h: PATTERN_BLOCKS_COLUMNS x PATTERN_BLOCKS_ROWS, 12 bits. */
const COLUMNS = 6, ROWS = 4, BITS = 12, MASK = (1 << BITS) - 1;
/* Decode canvas pixels per block side: the canvas is the frame scaled to 48x32. */
const CELL = 8;

const video = document.getElementById('received');
const ctx = document.getElementById('decode').getContext('2d', { willReadFrequently: true });
const localVideo = document.getElementById('local');
const localCtx = document.getElementById('localdecode').getContext('2d', { willReadFrequently: true });

function setState(s) {
	R.state = s;
	document.getElementById('state').textContent = s;
}

function note(msg) {
	R.log.push(msg);
	console.log('kmscast: ' + msg);
}

/*
 * The frame scaled into the 48x32 canvas puts each block on 8x8 canvas pixels; the mean of
 * the central 4x4 stays clear of the blurred edges. Thresholds as pattern_blocks_decode().
 */
function decodeCanvas(ctx) {
	const px = ctx.getImageData(0, 0, COLUMNS * CELL, ROWS * CELL).data;
	let word = 0;
	for (let k = 0; k < COLUMNS * ROWS; k++) {
		const cx = (k % COLUMNS) * CELL, cy = Math.floor(k / COLUMNS) * CELL;
		let sum = 0;
		for (let y = cy + CELL / 4; y < cy + CELL * 3 / 4; y++)
			for (let x = cx + CELL / 4; x < cx + CELL * 3 / 4; x++) {
				const i = (y * COLUMNS * CELL + x) * 4;
				sum += px[i] + px[i + 1] + px[i + 2];
			}
		const mean = sum / (3 * (CELL / 2) * (CELL / 2));
		if (mean > 96 && mean < 160)
			return { reason: 'grey block' };
		word = word * 2 + (mean >= 160 ? 1 : 0);
	}
	/* The top half is the Gray code of the frame number, the bottom half its complement. */
	let gray = word >>> BITS;
	if ((word & MASK) !== (~gray & MASK))
		return { reason: 'halves disagree' };
	let frame = 0;
	for (; gray; gray >>>= 1)
		frame ^= gray;
	return { frame };
}

let t0 = null;
let stopAt = null;
let done = false;

/* A received frame: source is the <video> or a VideoFrame. */
function onReceived(source, now, width, height) {
	R.seen++;
	ctx.drawImage(source, 0, 0, COLUMNS * CELL, ROWS * CELL);
	const d = decodeCanvas(ctx);
	if (d.reason === undefined) {
		if (t0 === null) {
			t0 = now;
			stopAt = now + (warmup + seconds) * 1000;
			setState('receiving');
			note(`first decoded frame ${d.frame}, ${width}x${height}`);
		}
		R.frames.push([d.frame, Math.round(now - t0), width, height]);
	} else {
		R.bad[d.reason] = (R.bad[d.reason] || 0) + 1;
	}
	if (R.seen % 10 === 0)
		showSummary();
	if (stopAt !== null && now >= stopAt && !done) {
		done = true;
		finish();
	}
}

/* The shared track itself, before WebRTC. */
function onLocal(source) {
	const L = R.local;
	L.seen++;
	localCtx.drawImage(source, 0, 0, COLUMNS * CELL, ROWS * CELL);
	const d = decodeCanvas(localCtx);
	if (d.reason === undefined)
		L.frames.push(d.frame);
	else
		L.bad[d.reason] = (L.bad[d.reason] || 0) + 1;
}

/*
 * Every frame of a track, as it comes: MediaStreamTrackProcessor where the browser has it
 * (Chromium), which hands over each VideoFrame without waiting for the page to be painted;
 * elsewhere requestVideoFrameCallback on a <video>, which sees only the frames the
 * compositor presents (under TCG a few a second).
 */
function feed(track, videoEl, handler) {
	if (typeof MediaStreamTrackProcessor === 'function') {
		const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
		(async () => {
			while (!done) {
				const { value: frame, done: ended } = await reader.read();
				if (ended)
					return;
				handler(frame, performance.now(), frame.displayWidth, frame.displayHeight);
				frame.close();
			}
		})();
		return 'MediaStreamTrackProcessor';
	}
	const again = (now, meta) => {
		handler(videoEl, now, meta.width, meta.height);
		if (!done)
			videoEl.requestVideoFrameCallback(again);
	};
	videoEl.requestVideoFrameCallback(again);
	return 'requestVideoFrameCallback';
}

function showSummary() {
	const f = R.frames, last = f.length ? f[f.length - 1] : null;
	const now = stream ? stream.getVideoTracks()[0].getSettings() : {};
	document.getElementById('summary').textContent =
		`captured ${now.width}x${now.height}; ` +
		`received ${video.videoWidth}x${video.videoHeight}; seen ${R.seen}; ` +
		`decoded ${f.length}` + (last ? `, last frame ${last[0]} at ${last[1]} ms` : '') +
		`; undecodable ${JSON.stringify(R.bad)}` + (decodeLocal ? '; shared track before ' +
		`WebRTC: seen ${R.local.seen}, decoded ${R.local.frames.length}, undecodable ` +
		JSON.stringify(R.local.bad) : '');
}

let pcs = [];
let stream = null;
/* The received track: the <video> plays it only at the end when the track processor feeds. */
let received = null;

async function collectStats() {
	const out = {};
	for (const [name, pc] of [['sender', pcs[0]], ['receiver', pcs[1]]]) {
		(await pc.getStats()).forEach((s) => {
			if (s.type === 'outbound-rtp' || s.type === 'inbound-rtp' || s.type === 'codec')
				out[name + '.' + s.type + (s.type === 'codec' ? '.' + s.id : '')] = s;
		});
	}
	return out;
}

/* The <video> shows the received track from here on; resolves once it shows a frame. */
function showReceived() {
	if (video.srcObject)
		return Promise.resolve();
	video.srcObject = new MediaStream([received]);
	return new Promise((resolve) => {
		const timer = setTimeout(() => {
			note('the <video> showed no frame within 5 s');
			resolve();
		}, 5000);
		video.requestVideoFrameCallback(() => {
			clearTimeout(timer);
			resolve();
		});
	});
}

async function finish() {
	R.capturedEnd = stream.getVideoTracks()[0].getSettings();
	document.getElementById('views').style.visibility = 'visible';
	await showReceived();
	showSummary();
	try {
		R.stats = await collectStats();
	} catch (e) {
		note('getStats: ' + e);
	}
	setState('done');
}

/*
 * Called by the driver after its screenshot, so that the picture still shows the streams.
 * Ending the track ends the portal session: the test checks that the node went away.
 */
window.kmscastStop = () => {
	stream.getTracks().forEach((t) => t.stop());
	pcs.forEach((pc) => pc.close());
	note('stopped');
};

async function connect(track) {
	const [pc1, pc2] = (pcs = [new RTCPeerConnection(), new RTCPeerConnection()]);
	pc1.onicecandidate = (e) => e.candidate && pc2.addIceCandidate(e.candidate);
	pc2.onicecandidate = (e) => e.candidate && pc1.addIceCandidate(e.candidate);
	pc1.oniceconnectionstatechange = () => note('ice ' + pc1.iceConnectionState);
	pc2.ontrack = (e) => {
		received = e.track;
		R.feeder = feed(e.track, video, onReceived);
		/*
		 * A <video> playing the track costs the software compositor CPU that the codec needs
		 * under TCG, hidden or not (it still takes every frame): with frames from the track
		 * processor it plays only at the end, for the picture.
		 */
		if (R.feeder === 'MediaStreamTrackProcessor')
			document.getElementById('views').style.visibility = 'hidden';
		else
			video.srcObject = new MediaStream([e.track]);
	};
	const sender = pc1.addTrack(track, stream);
	/*
	 * Under emulation the encoder is short of CPU: WebRTC then scales the video down by
	 * default, and the test wants the monitor's size on the receiving side too.
	 */
	try {
		const p = sender.getParameters();
		p.degradationPreference = 'maintain-resolution';
		await sender.setParameters(p);
	} catch (e) {
		note('degradationPreference: ' + e);
	}
	await pc1.setLocalDescription(await pc1.createOffer());
	await pc2.setRemoteDescription(pc1.localDescription);
	await pc2.setLocalDescription(await pc2.createAnswer());
	await pc1.setRemoteDescription(pc2.localDescription);
}

async function share() {
	setState('asking');
	try {
		stream = await navigator.mediaDevices.getDisplayMedia({
			video: { frameRate: { ideal: 30 } }, audio: false,
		});
		const track = stream.getVideoTracks()[0];
		R.captured = Object.assign({ label: track.label }, track.getSettings());
		note('captured ' + JSON.stringify(R.captured));
		track.onended = () => note('captured track ended');
		if (decodeLocal) {
			document.getElementById('localview').hidden = false;
			localVideo.srcObject = stream;
			feed(track, localVideo, onLocal);
		}
		setState('connecting');
		await connect(track);
	} catch (e) {
		R.error = `${e.name}: ${e.message}`;
		note('error ' + R.error);
		setState('error');
	}
}

document.getElementById('share').addEventListener('click', share);
