"""Protocol timers and bounds (PROTOCOL §2.5), one configurable set per lab or runtime."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timers:
    request: float = 15.0         # T: per request
    long: float = 75.0            # T_long: restarted by each 1xx
    subscription: float = 60.0    # T_sub: reporter decision on a subscribe forward
    child: float = 3.0            # T_child: child-create answer
    mn_retries: int = 10          # MN_RETRIES: create's MN subscribe, on 408/500
    gap_grace: float = 0.5        # GAP_GRACE: wait for a gap to close before a resync read
    standby: float = 30.0         # T_standby: delegation standby / 503 retry window
    resync_max_backoff: float = 60.0
    resync_read: float = 2.0      # a resync read's own timeout: a lost read is retried sooner than T
    resync_reads: int = 32       # resync reads in flight per runtime: more only queue up and time out
    tail: float = 1.0             # quiet time after which a stream re-sends its last update once (0: never)
    retry_503_every: float = 1.0  # SM_B re-sends a subscribe answered 503 this often (PROTOCOL §3.2)
    reconnect_first: float = 0.1  # a lost link's first reopen attempt after about this long (TRANSPORT §2)
    reconnect_max: float = 10.0   # reopen backoff doubles per failed attempt up to this
