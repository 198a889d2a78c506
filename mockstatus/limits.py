"""Every cap the server enforces, in one place.

Each constant here has a row in the `limits` table of `docs/security.md` (a test compares the
two). Change a value only with a measurement that says so, and say why in the commit.
Pure: no imports, so every layer may use it.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# --- time --------------------------------------------------------------------------------------
MAX_DELAY = 300.0  # seconds: the one cap on sleeps, delays, drips and latencies
MAX_SLEEP_MS = int(MAX_DELAY * 1000)  # the `sleep` query, in milliseconds
MAX_HANG = 600.0  # seconds: a hung request is released after this even if the client never leaves
MAX_CONTINUE_DELAY_MS = 60_000  # `?continue=<ms>` before the 100 is sent
MAX_ADMIN_WAIT = 60.0  # seconds one `/requests/wait` may block
MAX_ADVANCE = 10 * 365 * 86400.0  # seconds one manual-clock advance may move
MAX_CLOCK_WALL = 253_402_300_799.0  # 9999-12-31T23:59:59Z: a manual clock goes no further
SHUTDOWN_TIMEOUT = 5.0  # default `--shutdown-timeout`: well under Docker's 10 s stop timeout
BODY_READ_TIMEOUT = 30.0  # seconds a request body may take to arrive
IDLE_TIMEOUT = 75.0  # seconds a connection may wait for (the rest of) a request's head, then closes
MIN_RELOAD_INTERVAL = 0.1  # seconds: `--reload-interval` below this (except 0 = off) is refused
MAX_FAULT_INTERVAL = 60.0  # seconds: a `?drip=` interval or a `slow-headers` `?delay=`, at most
MIN_DRIP_EVERY = 0.001  # seconds between drip chunks, at least
MAX_SHUTDOWN_TIMEOUT = MAX_HANG  # `--shutdown-timeout`, at most
MAX_HTTPBIN_DELAY = 10.0  # seconds: httpbin's /delay/{s} and /drip's ?duration= and ?delay=
RESET_SETTLE = 1.0  # seconds a `reset` fault waits for the client to acknowledge what was sent
EMFILE_LOG_EVERY = 10.0  # seconds: at most one "out of file descriptors" line per interval

# --- sizes -------------------------------------------------------------------------------------
MAX_FILE_BYTES = 1 * MIB  # one scenario YAML file
MAX_BODY_FILE_BYTES = 10 * MIB  # a `file:` body of a scenario response
MAX_VALUES = 100_000  # YAML values after alias expansion: a "billion laughs" file stops here
MAX_DEPTH = 100  # YAML nesting; also keeps the recursive composers off deep stacks
MAX_UPLOAD = 1 * MIB  # bytes of one scenario upload
MAX_UPLOADS = 100  # scenarios uploaded through the admin API at once
MAX_UPLOAD_TOTAL = 16 * MIB  # bytes of all uploaded scenarios together
MAX_NAME = 200  # characters of a scenario name
MAX_UPGRADE_ECHO = 16 * MIB  # bytes a raw upgraded connection echoes before closing
UPGRADE_ECHO_BUFFER = 64 * KIB  # bytes received and not yet echoed before reading pauses
MAX_LOG_BACKLOG = 256 * KIB  # access-log characters waiting for stdout; more are dropped, counted
MAX_RANGE_SIZE = 10 * MIB  # largest representation `/status/206` and ranges build (bytes)
MAX_RANGES = 50  # range-specs in one Range header; more and the header is ignored
MAX_REDIRECTS = 100  # `/redirect/{n}`
MAX_REGEX_INPUT = 8 * KIB  # bytes of a path, header or query value a user regex runs on
MAX_REGEX_BODY = 64 * KIB  # bytes of a body a user regex runs on
MAX_HTTPBIN_BYTES = 100 * KIB  # httpbin's /bytes, /stream-bytes, /range and /drip ?numbytes=
MAX_HTTPBIN_LINKS = 200  # httpbin's /links/{n}
MAX_DRIP_WRITES = (
    1000  # writes of httpbin's /drip and /stream-bytes: larger bodies go in bigger pieces
)
MAX_HTTPBIN_STREAM = 100  # JSON lines of httpbin's /stream/{n}
MAX_SEED_DIGITS = 100  # digits of a `?seed=` (Python refuses int() of more than 4,300)

# --- tables ------------------------------------------------------------------------------------
MAX_SESSIONS = 10_000  # scenario sessions; the least recently used is dropped past this
MAX_KEYS = 100_000  # rate-limit buckets per limiter; the least recently used is dropped
MAX_COUNTERS = 10_000  # per-key sequence counters (`per: header:...`); LRU like sessions
MAX_SESSION_ENTRIES = 100_000  # client-keyed entries (buckets, counters, states) of all named sessions together; LRU sessions dropped (a bucket is ~1 KiB)
MAX_CHAIN = 64  # outage windows followed when they overlap or touch
MAX_WATCHED_FILES = 2000  # files the reload watcher tracks
MAX_ROUTES_PER_FILE = 1000  # routes in one scenario file or upload: bounds one build
MAX_ROUTES = 10_000  # routes of all loaded scenarios (folder and uploads) together
MAX_SHADOW_REPORT = 100  # entries of `shadows` / `shadowed_by` in one answer
MAX_SHADOW_CHECKS = 200_000  # route pairs compared for one shadowing report (~2 s of CPU)
FREEZE_FROM_ROUTES = 1000  # loaded routes from which the configuration is kept out of gc scans
MAX_WAITERS = 1000  # pending `/requests/wait` calls; the next gets 503 with Retry-After: 1
JOURNAL_PAGE = 1000  # entries per `/requests` page the pytest plugin's client asks for
MAX_JOURNAL_SIZE = 1_000_000  # `--journal-size`
BODY_EXCERPT = 1 * KIB  # bytes of a request body the journal keeps
MAX_JOURNAL_HEADERS = 64  # headers the journal keeps per request
MAX_JOURNAL_HEADER_VALUE = 1 * KIB  # characters of one journalled header value
MAX_ADMIN_TEXT = (
    2000  # characters of an admin text parameter (a journal filter, an owner, a session)
)
MAX_FAST_LANE_ENTRIES = 4096  # prepared answers (path, method, format, version) cached per server
MAX_FAST_LANE_HELD = (
    64 * KIB
)  # bytes a connection may send while its delayed fast-lane answer waits
MAX_FAST_LANE_REPEAT = 4 * KIB  # bytes of a connection's last request kept to reuse its parse
MAX_FORM_FIELDS = 1000  # form fields or cookies a matcher parses from one request
MAX_NEAR_MISS_SCAN = (
    200  # routes examined to explain one unmatched request (the first ones in order)
)
MAX_NEAR_MISSES = 3  # near misses in a 404 body and a journal entry
MAX_UNMATCHED = 1000  # unmatched requests kept for `/requests/unmatched` (the oldest go first)

# --- proxy (issue 14) --------------------------------------------------------------------------
MAX_UPSTREAM_TIMEOUT = MAX_DELAY  # seconds a proxy `timeout` (connect, response head) may be
UPSTREAM_IDLE = 60.0  # seconds an upstream response body may pause before it is cut
UPSTREAM_CONNECTIONS = 100  # pooled connections to all upstreams together (per server)
UPSTREAM_CHUNK = 64 * KIB  # bytes relayed per read, each way (a body is never held whole)
RECORD_SIDE_FILE = 64 * KIB  # recorded bodies above this go to a side file (`file:`)
MAX_RECORD_BODY = MAX_BODY_FILE_BYTES  # a recorded body above this is not recorded (`file:` cap)
MAX_RECORD_ROUTES = MAX_ROUTES_PER_FILE  # routes `--record` writes; later new ones are skipped

# --- streams (docs/streams.md) -------------------------------------------------------------------
MAX_STREAM_EVENTS = 10_000  # events listed in one `stream:` (sse, ndjson or chunks)
MAX_STREAM_REPEAT = 1_000_000  # `repeat:` count of a stream
MAX_STREAM_SECONDS = 3600.0  # seconds one stream (even `repeat: forever`) runs before it ends
MIN_HEARTBEAT = 0.1  # seconds: a shorter `heartbeat:` would be a busy writer
MIN_FOREVER_CYCLE = 0.01  # seconds the delays of one round of a `forever` stream add to, at least
MAX_FAST_EVENTS = 100_000  # events in all of a stream whose rounds take under MIN_FOREVER_CYCLE
MAX_RESUME_SCAN = 100_000  # events whose ids are compared to find a `Last-Event-ID`
MAX_SSE_COUNT = 1000  # `/sse?count=`
MAX_STREAM_LINES = 100  # `/stream/{n}`
MAX_AFTER_BYTES = 1 << 30  # bytes an `after` may name
MAX_AFTER_EVENTS = 1_000_000  # events an `after` may name
MIN_BANDWIDTH = 1.0  # bytes per second a `bandwidth` fault sends, at least
MAX_BANDWIDTH = float(1 << 40)  # bytes per second a `bandwidth` fault may name
MAX_STALL = MAX_HANG  # seconds a `stall` keeps the connection before closing it
MAX_RATE_LAYERS = 8  # policies on one route's `rate_limit` (each is checked per request)
MAX_LIMITERS = 100  # named `limiters` in one scenario file
# --- HTTP/2 ------------------------------------------------------------------------------------
MAX_H2_STREAMS = 10_000  # `--h2-max-streams` (SETTINGS_MAX_CONCURRENT_STREAMS), at most
H2_MAX_HEADER_LIST = 64 * KIB  # SETTINGS_MAX_HEADER_LIST_SIZE: decoded header bytes of one request
H2_OUTPUT_BUFFER = 256 * KIB  # bytes queued for a slow reader before the connection stops reading
H2_FLOOD_RESETS = 200  # RST_STREAM frames a client may send per second (rapid reset, §10.5)
H2_FLOOD_CONTROL_FRAMES = 100  # PING + SETTINGS frames a client may send per second (§10.5)
H2_GOAWAY_DEBUG = 120  # bytes of debug text in a GOAWAY that ends a connection on an error
H2_SEND_STALL = 60.0  # seconds an answer waits for a closed flow-control window or an unread socket
H2_READ_SLICE = 16 * KIB  # bytes of one read h2 parses before the flood checks run again
H2_GOAWAY_LINGER = 1.0  # seconds a connection stays open after GOAWAY once its streams are done
H2_RESET_ACK_WAIT = 5.0  # seconds a refused upload's reset waits for the client's PING ACK
# --- dashboard (docs/dashboard.md) -------------------------------------------------------------
MAX_FEED_SUBSCRIBERS = 64  # open `/__mockstatus/events` feeds (dashboards); more get a 503
FEED_BUFFER = 1000  # events queued for one feed subscriber; more are dropped and counted
FEED_SENT_KEYS = 10_000  # (scenario, machine or route, session) states a feed remembers as sent
FEED_TICK = 0.05  # seconds: events are serialised once and sent in one batch per tick
MAX_FEED_QUEUE = 20_000  # events waiting for the next tick; more (a starved loop) are dropped
FEED_TEMPLATES = 1024  # request-event shapes (path, route, session...) kept encoded; then cleared
FEED_SNAPSHOT_REQUESTS = 200  # newest journal entries a feed's `snapshot` carries
FEED_SESSIONS_SHOWN = 50  # sessions per route a snapshot describes (the most recently made)
FEED_BUCKETS_SHOWN = 50  # rate-limit buckets per route a snapshot describes
MAX_OVERRIDES = 1000  # route overrides (forced outages and faults) held at once
MAX_OVERRIDE_SECONDS = 86_400.0  # seconds an override's `for` may name
# --- shared state store (docs/scale-out.md) -----------------------------------------------------
STATE_TIMEOUT = 5.0  # seconds one state-store call may take (a pool wait included)
STATE_RETRY_INTERVAL = 0.5  # seconds a lost store is left alone before the next probe
STATE_SESSION_TTL = 86_400  # seconds an idle session's keys live in the store (refreshed on use)
STATE_MIN_BUCKET_TTL = 3600  # seconds a bucket's keys live at least (manual clocks stand still)
STATE_BATCH_INTERVAL = 0.01  # seconds journal writes wait to be batched (also bounds their delay)
STATE_BATCH_MAX = 1000  # journal entries written to the store in one batch
STATE_JOURNAL_READ = 1000  # entries one read of the shared journal stream fetches
STATE_POOL_SIZE = 128  # connections to the state store per process
STATE_METRICS_INTERVAL = 1.0  # seconds between two shares of a replica's metrics
STATE_METRICS_STALE = 10.0  # seconds after which a replica that stopped sharing is left out
# --- workers (`serve --workers`, docs/scale-out.md) --------------------------------------------
MAX_WORKERS = 256  # `--workers`, at most (`auto` is capped here too)
WORKER_RESTARTS = (
    5  # worker restarts allowed within WORKER_RESTART_WINDOW; one more stops the server
)
WORKER_RESTART_WINDOW = 60.0  # seconds over which WORKER_RESTARTS is counted
WORKER_START_TIMEOUT = 30.0  # seconds a worker may take to listen before the server gives up
WORKER_EXIT_GRACE = 5.0  # seconds past --shutdown-timeout a worker may take to exit, then SIGKILL
# --- listening sockets -------------------------------------------------------------------------
LISTEN_BACKLOG = 4096  # connections a `serve` socket queues unaccepted (the kernel caps: somaxconn)
UPSTREAM_INTERIMS = 16  # an upstream's 1xx (103, 102) relayed per request; more are dropped
MAX_INTERIMS = 16  # 1xx interim responses one `?interim=` list may ask for; more is a 400
MAX_WEBSOCKET_MESSAGE = 4 * MIB  # bytes of one /websocket/echo message; a larger one: close 1009
H2_MAX_HEADER_BLOCK = 64 * KIB  # encoded bytes of one HEADERS + CONTINUATION chain, as the list
