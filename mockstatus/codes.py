"""The status-code registry: every code 100–599 with its reason phrase, class, meaning and source.

Reason phrases follow the IANA registry as updated by RFC 9110 (plus 418). Codes without a registered
name answer with their class name (RFC 9110 §15: "a client MUST understand the class of any status
code"). Python's `http` module is not used: its names change between versions.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_CODE = 100
MAX_CODE = 599
VALID_RANGE = f"{MIN_CODE}-{MAX_CODE}"

CLASS_NAMES = {
    1: "Informational",
    2: "Successful",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
}


@dataclass(frozen=True, slots=True)
class StatusInfo:
    code: int
    reason: str
    status_class: str  # "1xx" … "5xx"
    class_name: str
    description: str
    rfc: str  # e.g. "RFC 9110 §15.6.4"; "" for an unassigned code
    registered: bool


# code: (reason, description, reference)
_REGISTERED: dict[int, tuple[str, str, str]] = {
    100: (
        "Continue",
        "The request headers were received; the client may send the body.",
        "RFC 9110 §15.2.1",
    ),
    101: (
        "Switching Protocols",
        "The server switches to the protocol named in Upgrade.",
        "RFC 9110 §15.2.2",
    ),
    102: (
        "Processing",
        "The server accepted the request and is still working on it.",
        "RFC 2518 §10.1",
    ),
    103: (
        "Early Hints",
        "Headers the final response will likely carry, sent early (e.g. preload links).",
        "RFC 8297 §2",
    ),
    200: ("OK", "The request succeeded.", "RFC 9110 §15.3.1"),
    201: (
        "Created",
        "The request succeeded and created a resource, named by Location.",
        "RFC 9110 §15.3.2",
    ),
    202: (
        "Accepted",
        "The request was accepted for processing, which has not finished.",
        "RFC 9110 §15.3.3",
    ),
    203: (
        "Non-Authoritative Information",
        "The content was modified by a transforming proxy.",
        "RFC 9110 §15.3.4",
    ),
    204: (
        "No Content",
        "The request succeeded and there is no content to send.",
        "RFC 9110 §15.3.5",
    ),
    205: (
        "Reset Content",
        "The request succeeded; the client should reset the document view.",
        "RFC 9110 §15.3.6",
    ),
    206: (
        "Partial Content",
        "The response carries only the requested ranges of the representation.",
        "RFC 9110 §15.3.7",
    ),
    207: (
        "Multi-Status",
        "The body holds a status for each of several resources.",
        "RFC 4918 §11.1",
    ),
    208: ("Already Reported", "The members of this binding were already listed.", "RFC 5842 §7.1"),
    226: (
        "IM Used",
        "The response is a delta: instance manipulations were applied.",
        "RFC 3229 §10.4.1",
    ),
    300: (
        "Multiple Choices",
        "The resource has several representations; pick one.",
        "RFC 9110 §15.4.1",
    ),
    301: (
        "Moved Permanently",
        "The resource has a new permanent URI, in Location.",
        "RFC 9110 §15.4.2",
    ),
    302: ("Found", "The resource is temporarily at another URI, in Location.", "RFC 9110 §15.4.3"),
    303: ("See Other", "The answer is at another URI, to be fetched with GET.", "RFC 9110 §15.4.4"),
    304: ("Not Modified", "The cached representation is still valid.", "RFC 9110 §15.4.5"),
    305: (
        "Use Proxy",
        "The resource must be accessed through the proxy in Location (deprecated).",
        "RFC 9110 §15.4.6",
    ),
    306: ("(Unused)", "Reserved; was Switch Proxy in an earlier draft.", "RFC 9110 §15.4.7"),
    307: (
        "Temporary Redirect",
        "Repeat the request, same method and body, at the URI in Location.",
        "RFC 9110 §15.4.8",
    ),
    308: (
        "Permanent Redirect",
        "Repeat this and future requests, same method, at the URI in Location.",
        "RFC 9110 §15.4.9",
    ),
    400: (
        "Bad Request",
        "The server cannot process the request because it is malformed.",
        "RFC 9110 §15.5.1",
    ),
    401: (
        "Unauthorized",
        "The request lacks valid authentication credentials.",
        "RFC 9110 §15.5.2",
    ),
    402: (
        "Payment Required",
        "Reserved for future use (often used for billing limits).",
        "RFC 9110 §15.5.3",
    ),
    403: (
        "Forbidden",
        "The server understood the request but refuses to fulfil it.",
        "RFC 9110 §15.5.4",
    ),
    404: (
        "Not Found",
        "The server has no current representation for the target resource.",
        "RFC 9110 §15.5.5",
    ),
    405: (
        "Method Not Allowed",
        "The method is not supported by the target resource; see Allow.",
        "RFC 9110 §15.5.6",
    ),
    406: (
        "Not Acceptable",
        "No representation matches the request's Accept headers.",
        "RFC 9110 §15.5.7",
    ),
    407: (
        "Proxy Authentication Required",
        "The client must authenticate with the proxy.",
        "RFC 9110 §15.5.8",
    ),
    408: ("Request Timeout", "The server timed out waiting for the request.", "RFC 9110 §15.5.9"),
    409: (
        "Conflict",
        "The request conflicts with the current state of the resource.",
        "RFC 9110 §15.5.10",
    ),
    410: ("Gone", "The resource is permanently gone.", "RFC 9110 §15.5.11"),
    411: ("Length Required", "The request needs a Content-Length.", "RFC 9110 §15.5.12"),
    412: (
        "Precondition Failed",
        "A precondition in the request headers evaluated to false.",
        "RFC 9110 §15.5.13",
    ),
    413: (
        "Content Too Large",
        "The request content is larger than the server will process.",
        "RFC 9110 §15.5.14",
    ),
    414: (
        "URI Too Long",
        "The request target is longer than the server will interpret.",
        "RFC 9110 §15.5.15",
    ),
    415: (
        "Unsupported Media Type",
        "The content's media type or coding is not supported.",
        "RFC 9110 §15.5.16",
    ),
    416: (
        "Range Not Satisfiable",
        "None of the requested ranges overlap the representation.",
        "RFC 9110 §15.5.17",
    ),
    417: (
        "Expectation Failed",
        "The expectation in the Expect header cannot be met.",
        "RFC 9110 §15.5.18",
    ),
    418: (
        "I'm a teapot",
        "The server refuses to brew coffee because it is a teapot.",
        "RFC 2324 §2.3.2",
    ),
    421: (
        "Misdirected Request",
        "The request reached a server that cannot answer for this origin.",
        "RFC 9110 §15.5.20",
    ),
    422: (
        "Unprocessable Content",
        "The content is well-formed but semantically invalid.",
        "RFC 9110 §15.5.21",
    ),
    423: ("Locked", "The resource is locked.", "RFC 4918 §11.3"),
    424: (
        "Failed Dependency",
        "The request failed because a request it depended on failed.",
        "RFC 4918 §11.4",
    ),
    425: (
        "Too Early",
        "The server will not process a request that might be replayed.",
        "RFC 8470 §5.2",
    ),
    426: (
        "Upgrade Required",
        "The client must switch to a protocol named in Upgrade.",
        "RFC 9110 §15.5.22",
    ),
    428: (
        "Precondition Required",
        "The request must be conditional (e.g. carry If-Match).",
        "RFC 6585 §3",
    ),
    429: (
        "Too Many Requests",
        "The client sent too many requests; slow down (see Retry-After).",
        "RFC 6585 §4",
    ),
    431: (
        "Request Header Fields Too Large",
        "The request's header fields are too large.",
        "RFC 6585 §5",
    ),
    451: (
        "Unavailable For Legal Reasons",
        "The resource is unavailable because of a legal demand.",
        "RFC 7725 §3",
    ),
    500: ("Internal Server Error", "The server met an unexpected condition.", "RFC 9110 §15.6.1"),
    501: (
        "Not Implemented",
        "The server does not support the functionality required.",
        "RFC 9110 §15.6.2",
    ),
    502: (
        "Bad Gateway",
        "The gateway received an invalid response from the upstream server.",
        "RFC 9110 §15.6.3",
    ),
    503: (
        "Service Unavailable",
        "The server is temporarily unable to handle the request.",
        "RFC 9110 §15.6.4",
    ),
    504: (
        "Gateway Timeout",
        "The gateway did not get a timely response from the upstream.",
        "RFC 9110 §15.6.5",
    ),
    505: (
        "HTTP Version Not Supported",
        "The server does not support the request's HTTP version.",
        "RFC 9110 §15.6.6",
    ),
    506: (
        "Variant Also Negotiates",
        "Content negotiation is misconfigured on the server.",
        "RFC 2295 §8.1",
    ),
    507: (
        "Insufficient Storage",
        "The server cannot store what the request needs.",
        "RFC 4918 §11.5",
    ),
    508: ("Loop Detected", "The server found an infinite loop while processing.", "RFC 5842 §7.2"),
    510: (
        "Not Extended",
        "An extension the request needs is not declared (historic).",
        "RFC 2774 §7",
    ),
    511: (
        "Network Authentication Required",
        "The client must authenticate to gain network access.",
        "RFC 6585 §6",
    ),
}

# Older or informal names, accepted wherever a name is accepted.
_ALIASES: dict[str, int] = {
    "Payload Too Large": 413,
    "Request Entity Too Large": 413,
    "Unprocessable Entity": 422,
    "Requested Range Not Satisfiable": 416,
    "Request-URI Too Long": 414,
    "Request URI Too Long": 414,
    "Moved Temporarily": 302,
    "Switch Proxy": 306,
    "Unused": 306,
    "I Am A Teapot": 418,
    "Im A Teapot": 418,
}


def _build() -> dict[int, StatusInfo]:
    table: dict[int, StatusInfo] = {}
    for code in range(MIN_CODE, MAX_CODE + 1):
        digit = code // 100
        known = _REGISTERED.get(code)
        if known is not None:
            reason, description, rfc = known
            table[code] = StatusInfo(
                code, reason, f"{digit}xx", CLASS_NAMES[digit], description, rfc, True
            )
        else:
            name = CLASS_NAMES[digit]
            table[code] = StatusInfo(
                code,
                name,
                f"{digit}xx",
                name,
                f"An unassigned {digit}xx code: clients treat it as x00 of its class ({digit}00).",
                "",
                False,
            )
    return table


CODES: dict[int, StatusInfo] = _build()


def lookup(code: int) -> StatusInfo:
    """The registry entry of `code`; raises KeyError outside 100–599."""
    return CODES[code]


def aliases() -> dict[str, int]:
    """Older names accepted as aliases, for docs and the catalog."""
    return dict(_ALIASES)
