"""A Serve request router that keeps the calls of one runtime request (or job) on one gpu_service replica.

Without a shared volume, a call can leave files on its replica that the next calls of the same request read: the
inputs the runtime put there, a video's result. Requests carrying a session id (Serve's x-session-id header; the
runtime sends its request id there, RUNTIME_GPU_AFFINITY_HEADER) go where that session's first request went, for
as long as that replica runs; the others are routed as Serve routes by default (power of two choices). A hash ring
(Serve's ConsistentHashRouter) would move sessions to a replica the autoscaler adds mid-request; a pin does not.
"""

from __future__ import annotations

import time
from typing import Any

from ray.serve._private.common import ReplicaID
from ray.serve._private.request_router.common import PendingRequest
from ray.serve._private.request_router.pow_2_router import PowerOfTwoChoicesRequestRouter
from ray.serve._private.request_router.replica_wrapper import RunningReplica

KEEP_S = 3600.0  # a session unused this long is forgotten (the gpu_service drops its results sooner)


class PinnedSessionRouter(PowerOfTwoChoicesRequestRouter):
    def initialize_state(self, **kwargs: Any) -> None:
        self._keep_s = float(kwargs.get("keep_s", KEEP_S))
        self._pins: dict[str, tuple[ReplicaID, float]] = {}

    async def choose_replicas(
        self, candidate_replicas: list[RunningReplica], pending_request: PendingRequest | None = None
    ) -> list[list[RunningReplica]]:
        session = pending_request.metadata.session_id if pending_request is not None else None
        pinned = self._pins.get(session) if session else None
        if pinned is not None and pinned[0] in self._replicas:
            pending_request.routing_context.should_backoff = True  # type: ignore[union-attr]
            return [[self._replicas[pinned[0]]]]  # busy: the request waits for it rather than going elsewhere
        return await super().choose_replicas(candidate_replicas, pending_request)

    def on_request_routed(self, pending_request: PendingRequest, replica_id: ReplicaID, result: Any) -> None:
        super().on_request_routed(pending_request, replica_id, result)
        if session := pending_request.metadata.session_id:
            now = time.monotonic()
            self._pins[session] = (replica_id, now)
            if len(self._pins) % 256 == 0:  # now and then, forget sessions long unused
                self._pins = {key: pin for key, pin in self._pins.items() if now - pin[1] < self._keep_s}
