// One ky request against a retry-pack route, for tests/test_retry_pack.py.
//   node ky_retry.mjs URL SESSION   → prints {"outcome": "429", "waits_ms": [...]} on stdout
// ky computes its wait (Retry-After, dates, backoff) itself and sleeps with setTimeout in
// ky/distribution/utils/delay.js. That one call is recorded and fired at once, so nobody waits and
// the test sees exactly what ky asked the timer for; every other timer (undici's) is untouched.
import ky, {HTTPError} from 'ky';

const [url, session] = process.argv.slice(2);
const waitsMs = [];
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (callback, ms, ...args) => {
	if (new Error('timer caller').stack.includes('/ky/distribution/utils/delay.js')) {
		waitsMs.push(ms);
		return realSetTimeout(callback, 0, ...args);
	}

	return realSetTimeout(callback, ms, ...args);
};

let outcome;
try {
	// One retry, like every client in the pack; ky's defaults otherwise (statusCodes and
	// afterStatusCodes include 429 and 503, maxRetryAfter is unlimited, no jitter). timeout: false,
	// because ky's own timeout timer is not what is measured; the test bounds the process instead.
	const response = await ky.get(url, {
		headers: {'X-Mockstatus-Session': session},
		retry: {limit: 1},
		timeout: false,
	});
	outcome = String(response.status);
} catch (error) {
	outcome = error instanceof HTTPError ? String(error.response.status) : `raises ${error.name}`;
}

process.stdout.write(JSON.stringify({outcome, waits_ms: waitsMs}) + '\n');
