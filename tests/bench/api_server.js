#!/usr/bin/env node
// api_server.js: the benchmark's stand-in for the Freddy API, speaking
// HTTP/2 and HTTP/1.1 (tests/bench/bench.py, tests/bench/fleet.py).
//
// Node's built-in http2 and https modules, nothing from npm.  It listens
// on two ports with the same handler and the same counters:
//   the h2 port offers ALPN "h2" and "http/1.1" (allowHTTP1), so curl
//     negotiates h2 there; SETTINGS_MAX_CONCURRENT_STREAMS is --streams;
//   the http1 port offers "http/1.1" only, as an API that has no h2.
// Each new connection waits --setup-ms before its TLS handshake starts,
// as the round trips to a distant API would, and each API request is
// answered after latency_ms, without holding back the others.
//
// Only the Freddy email flow, as documented in
// /work/shared/api/freddy-authentication-guide.txt (the same subset and
// the same replies as bench_server.c):
//   POST {prefix}/v1/auth/login  {"email_or_username", "password"}
//     -> 200 {success, message, email_key "uuid-...", email,
//             requires_verification, next_step}
//     -> 401 INVALID_CREDENTIALS (unknown user, wrong password)
//   POST {prefix}/v1/auth/verify {"email_key", "verification_code"}
//     -> 200 {token, refreshToken, token_type, expires_in, user}
//     -> 401 INVALID_VERIFICATION_CODE (wrong code; the key stays usable)
//     -> 401 VERIFICATION_EXPIRED (unknown, used or expired email_key)
//   POST {prefix}/v1/auth/refresh {"refresh_token"}
//     -> 200 {token, device_id} (the guide's body, as the emulator answers)
//     -> 401 INVALID_REFRESH_TOKEN (unknown or expired)
// Users are bench0 .. bench<N-1> (or benchI@example.com), all with
// --password; every code is --code.  An email_key is single use and
// valid --key-ttl seconds.
//
// Test-only admin endpoints (never delayed; their connections are counted
// under "none": they send no ALPN, curl always does):
//   GET  /_emu/stats  -> {"connections": N, "by_protocol": {"h2", "http/1.1",
//        "none"}, "open_connections", "streams", "requests": {...}, ...}
//   POST /_emu/peaks  -> the peaks since the last call, then resets them:
//        {"open_connections", "streams_per_connection", "streams"}
//   GET  /_emu/config, POST /_emu/config {"latency_ms", "setup_ms"}
//
// Usage: node api_server.js --cert PEM --key PEM --password PW --code NNNN
//          [--users N] [--port-file FILE] [--streams 128] [--setup-ms 100]
//          [--latency-ms 0] [--key-ttl 600] [--prefix ""]
// The port file gets {"h2": PORT, "http1": PORT} once both listen.
// SIGTERM or SIGINT stops it with exit status 0.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http2 = require("http2");
const https = require("https");
const net = require("net");

const MAX_BODY = 64 * 1024;
const ACCESS_TTL = 86400;

function parseArgs(argv) {
	const opt = {
		cert: null, key: null, password: null, code: null, users: 1000,
		portFile: null, streams: 128, setupMs: 100, latencyMs: 0, keyTtl: 600,
		prefix: "", bind: "127.0.0.1",
	};
	const numbers = {
		"--code": ["code", 0, 999999999], "--users": ["users", 1, 100000000],
		"--streams": ["streams", 1, 1 << 20], "--setup-ms": ["setupMs", 0, 600000],
		"--latency-ms": ["latencyMs", 0, 600000], "--key-ttl": ["keyTtl", 1, 86400 * 365],
	};
	const strings = {
		"--cert": "cert", "--key": "key", "--password": "password",
		"--port-file": "portFile", "--prefix": "prefix", "--bind": "bind",
	};
	for (let i = 2; i < argv.length; i += 2) {
		const name = argv[i], value = argv[i + 1];
		if (value === undefined)
			usage();
		if (name in numbers) {
			const [field, min, max] = numbers[name];
			if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
				process.stderr.write(`api_server: bad value for ${name}: ${value}\n`);
				process.exit(2);
			}
			opt[field] = Number(value);
		} else if (name in strings) {
			opt[strings[name]] = value;
		} else {
			usage();
		}
	}
	if (!opt.cert || !opt.key || opt.password === null || opt.code === null)
		usage();
	return opt;
}

function usage() {
	process.stderr.write("usage: api_server.js --cert PEM --key PEM --password PW --code NNNN\n" +
		"       [--users N] [--port-file FILE] [--streams 128] [--setup-ms 100]\n" +
		"       [--latency-ms 0] [--key-ttl 600] [--prefix P] [--bind 127.0.0.1]\n");
	process.exit(2);
}

const opt = parseArgs(process.argv);
const loginPath = opt.prefix + "/v1/auth/login";
const verifyPath = opt.prefix + "/v1/auth/verify";
const refreshPath = opt.prefix + "/v1/auth/refresh";
const REFRESH_TTL = 30 * 86400;
const config = { latency_ms: opt.latencyMs, setup_ms: opt.setupMs };

// ---- counters ------------------------------------------------------------

const stats = {
	connections: 0,
	by_protocol: { "h2": 0, "http/1.1": 0, "none": 0 },
	open_connections: 0,
	streams: 0,			// h2 streams opened, every connection
	requests: {},
};
const peaks = { open_connections: 0, streams_per_connection: 0, streams: 0 };

function countRequest(method, path) {
	const name = method + " " + path;
	stats.requests[name] = (stats.requests[name] || 0) + 1;
}

// ---- issued email_keys ---------------------------------------------------

const keys = new Map();	// key -> { user, expires }

function keyIssue(user) {
	const key = "uuid-" + crypto.randomUUID();
	keys.set(key, { user, expires: Date.now() + opt.keyTtl * 1000 });
	return key;
}

// The user an unexpired key was issued for, or -1; `consume` forgets it.
function keyLookup(key, consume) {
	const rec = keys.get(key);
	if (rec === undefined)
		return -1;
	if (Date.now() >= rec.expires) {
		keys.delete(key);
		return -1;
	}
	if (consume)
		keys.delete(key);
	return rec.user;
}

const refreshTokens = new Map();	// token -> { user, expires }

// Expired keys of logins that were never verified, and expired refresh
// tokens, go away once a minute.
setInterval(() => {
	const now = Date.now();
	for (const table of [keys, refreshTokens])
		for (const [key, rec] of table)
			if (now >= rec.expires)
				table.delete(key);
}, 60000).unref();

// ---- replies ---------------------------------------------------------------

function sendJson(res, status, body) {
	const text = JSON.stringify(body);
	res.writeHead(status, { "content-type": "application/json",
				"content-length": Buffer.byteLength(text) });
	res.end(text);
}

// The documented error envelope (INVALID_CREDENTIALS in the guide; the
// other codes follow the emulator's choices where the guide is silent).
const ERRORS = {
	INVALID_CREDENTIALS: [401, "Invalid email or password. Please try again.",
			      "Invalid credentials", "authentication_error"],
	INVALID_VERIFICATION_CODE: [401, "Invalid verification code.",
				    "Invalid verification code", "authentication_error"],
	VERIFICATION_EXPIRED: [401, "Verification code expired. Please log in again.",
			       "Verification session expired or unknown", "authentication_error"],
	INVALID_REFRESH_TOKEN: [401, "Invalid or expired refresh token.", "Invalid refresh token",
				"authentication_error"],
	VALIDATION_ERROR: [422, "Invalid request. Please check your input.",
			   "Request validation failed", "validation_error"],
	PAYLOAD_TOO_LARGE: [413, "Request body too large.", "Request entity too large",
			    "invalid_request_error"],
	NOT_FOUND: [404, "The requested resource was not found.", "Not found", "not_found_error"],
	METHOD_NOT_ALLOWED: [405, "Method not allowed.", "Method not allowed",
			     "invalid_request_error"],
};

function sendError(res, code) {
	const [status, message, systemMessage, type] = ERRORS[code];
	sendJson(res, status, {
		success: false,
		error: {
			code, message, system_message: systemMessage, type, status, details: {},
			trace_id: "req_" + crypto.randomBytes(8).toString("hex"),
			timestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
		},
	});
}

function base64url(buf) {
	return buf.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// A JWT-shaped opaque token: base64url header and payload, random "signature".
function makeToken(user, kind, ttl) {
	const payload = { sub: "bench" + user, type: kind,
			  exp: Math.floor(Date.now() / 1000) + ttl,
			  jti: crypto.randomBytes(16).toString("hex") };
	return "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		base64url(Buffer.from(JSON.stringify(payload))) + "." +
		base64url(crypto.randomBytes(30));
}

// "benchI" or "benchI@example.com" with 0 <= I < users -> I, else -1.
function parseUser(ident) {
	const m = /^bench(0|[1-9][0-9]*)(@example\.com)?$/.exec(ident);
	if (m === null)
		return -1;
	const i = Number(m[1]);
	return i < opt.users ? i : -1;
}

function parseObject(body) {
	try {
		const v = JSON.parse(body);
		return v !== null && typeof v === "object" && !Array.isArray(v) ? v : null;
	} catch (e) {
		return null;
	}
}

function doLogin(res, body) {
	const root = parseObject(body);
	const ident = root && root.email_or_username, password = root && root.password;
	if (typeof ident !== "string" || typeof password !== "string")
		return sendError(res, "VALIDATION_ERROR");
	const user = parseUser(ident);
	if (user < 0 || password !== opt.password)
		return sendError(res, "INVALID_CREDENTIALS");
	sendJson(res, 200, {
		success: true,
		message: "Login credentials verified. Please check your email for verification code.",
		email_key: keyIssue(user), email: `bench${user}@example.com`,
		requires_verification: true, next_step: "email_verification",
	});
}

function doVerify(res, body) {
	const root = parseObject(body);
	const key = root && root.email_key, jcode = root && root.verification_code;
	let code = -1;
	if (Number.isInteger(jcode))
		code = jcode < 0 || jcode > 999999999 ? -2 : jcode;
	else if (typeof jcode === "string" && /^[0-9]{1,9}$/.test(jcode))
		code = Number(jcode);	// like the emulator: digits in a string too
	if (typeof key !== "string" || code === -1)
		return sendError(res, "VALIDATION_ERROR");
	const user = keyLookup(key, code === opt.code);
	if (user < 0)
		return sendError(res, "VERIFICATION_EXPIRED");
	if (code !== opt.code)
		return sendError(res, "INVALID_VERIFICATION_CODE");
	const refresh = makeToken(user, "refresh", REFRESH_TTL);
	refreshTokens.set(refresh, { user, expires: Date.now() + REFRESH_TTL * 1000 });
	sendJson(res, 200, {
		token: makeToken(user, "access", ACCESS_TTL),
		refreshToken: refresh,
		token_type: "bearer", expires_in: ACCESS_TTL,
		user: { id: "usr_" + crypto.randomBytes(16).toString("hex"),
			email: `bench${user}@example.com`, verified: true },
	});
}

function doRefresh(res, body) {
	const root = parseObject(body);
	const token = root && root.refresh_token;
	if (typeof token !== "string")
		return sendError(res, "VALIDATION_ERROR");
	const rec = refreshTokens.get(token);
	if (rec === undefined || Date.now() >= rec.expires)
		return sendError(res, "INVALID_REFRESH_TOKEN");
	// No rotation: the guide's reply carries no new refresh token.
	sendJson(res, 200, { token: makeToken(rec.user, "access", ACCESS_TTL), device_id: "device-123" });
}

function doAdmin(req, res, url, body) {
	if (url === "/_emu/stats" && req.method === "GET")
		return sendJson(res, 200, Object.assign({ server: "api_server.js", codes_sent: 0 }, stats));
	if (url === "/_emu/peaks" && req.method === "POST") {
		const reply = Object.assign({}, peaks);
		peaks.open_connections = stats.open_connections;
		peaks.streams_per_connection = 0;
		peaks.streams = 0;
		return sendJson(res, 200, reply);
	}
	if (url === "/_emu/config") {
		if (req.method === "POST") {
			const root = parseObject(body);
			const ok = root !== null && Object.entries(root).every(([k, v]) =>
				(k === "latency_ms" || k === "setup_ms") && Number.isInteger(v) &&
				v >= 0 && v <= 600000);
			if (!ok)
				return sendJson(res, 400, { error: "bad or unknown config key" });
			Object.assign(config, root);
		} else if (req.method !== "GET") {
			return sendError(res, "METHOD_NOT_ALLOWED");
		}
		return sendJson(res, 200, config);
	}
	sendJson(res, 404, { error: "unknown admin endpoint" });
}

const handlers = new Map([[loginPath, doLogin], [verifyPath, doVerify], [refreshPath, doRefresh]]);

function answer(req, res, url, body, tooLarge) {
	if (tooLarge)
		return sendError(res, "PAYLOAD_TOO_LARGE");
	const handler = handlers.get(url);
	if (handler === undefined)
		return sendError(res, "NOT_FOUND");
	if (req.method !== "POST")
		return sendError(res, "METHOD_NOT_ALLOWED");
	return handler(res, body);
}

// One handler for both servers (http2's compatibility API has https's shape).
function onRequest(req, res) {
	const chunks = [];
	let len = 0, tooLarge = false;
	req.on("data", (chunk) => {
		len += chunk.length;
		if (len > MAX_BODY)
			tooLarge = true;
		else
			chunks.push(chunk);
	});
	req.on("end", () => {
		const url = req.url.split("?")[0];
		const body = Buffer.concat(chunks).toString("utf8");
		if (url.startsWith("/_emu/"))
			return doAdmin(req, res, url, body);
		countRequest(req.method, url);
		if (config.latency_ms > 0)
			setTimeout(answer, config.latency_ms, req, res, url, body, tooLarge);
		else
			answer(req, res, url, body, tooLarge);
	});
}

// ---- connections -----------------------------------------------------------

function onSecureConnection(tlsSocket) {
	const proto = tlsSocket.alpnProtocol || "none";
	stats.connections++;
	stats.by_protocol[proto] = (stats.by_protocol[proto] || 0) + 1;
	stats.open_connections++;
	peaks.open_connections = Math.max(peaks.open_connections, stats.open_connections);
	tlsSocket.once("close", () => { stats.open_connections--; });
}

function onSession(session) {
	let open = 0;
	session.on("stream", (stream) => {
		stats.streams++;
		peaks.streams++;
		open++;
		peaks.streams_per_connection = Math.max(peaks.streams_per_connection, open);
		stream.once("close", () => { open--; });
	});
}

const tlsOptions = {
	cert: fs.readFileSync(opt.cert), key: fs.readFileSync(opt.key),
	minVersion: "TLSv1.2",
};

const h2Server = http2.createSecureServer(Object.assign({
	allowHTTP1: true,
	settings: { maxConcurrentStreams: opt.streams },
}, tlsOptions), onRequest);
h2Server.on("secureConnection", onSecureConnection);
h2Server.on("session", onSession);

const http1Server = https.createServer(Object.assign({ ALPNProtocols: ["http/1.1"] }, tlsOptions),
				       onRequest);
http1Server.on("secureConnection", onSecureConnection);
// Keep idle connections as long as an API behind a load balancer would
// (Node closes them after 5 s by default: every storm would reconnect).
http1Server.keepAliveTimeout = 120000;
http1Server.headersTimeout = 130000;
http1Server.requestTimeout = 0;

// Plain TCP first: the TLS server gets the socket after the set-up time.
function frontDoor(tlsServer) {
	return net.createServer({ pauseOnConnect: true }, (socket) => {
		socket.setNoDelay(true);
		socket.on("error", () => {});
		setTimeout(() => {
			if (socket.destroyed)
				return;
			tlsServer.emit("connection", socket);
			socket.resume();
		}, config.setup_ms);
	});
}

function listen(server) {
	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen({ host: opt.bind, port: 0, backlog: 4096 }, () => resolve(server.address().port));
	});
}

async function main() {
	const h2Front = frontDoor(h2Server), http1Front = frontDoor(http1Server);
	const ports = { h2: await listen(h2Front), http1: await listen(http1Front) };
	if (opt.portFile) {
		fs.writeFileSync(opt.portFile + ".tmp", JSON.stringify(ports) + "\n");
		fs.renameSync(opt.portFile + ".tmp", opt.portFile);
	}
	const stop = () => process.exit(0);
	process.on("SIGTERM", stop);
	process.on("SIGINT", stop);
}

main().catch((e) => {
	process.stderr.write("api_server: " + e.message + "\n");
	process.exit(1);
});
