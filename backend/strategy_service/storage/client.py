"""The Firestore client of the process, its retry policy and deadlines, and the translation
of storage failures into domain errors. The repositories of every domain build on it; no
module outside ``storage/`` and the ``repository.py`` files imports ``google.cloud``.

Concurrency without lock-based transactions: a trade is created with ``create()`` (fails
with ``AlreadyExists``) and changed under a ``last_update_time`` precondition (fails with
``FailedPrecondition``); the emulator and production Firestore resolve both at once,
while lock-based transactions on one document time out under bursts.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import google.auth.exceptions
from google.api_core import exceptions as gexc
from google.api_core import retry_async
from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from ..core.errors import ServiceError, StorageNotConfigured, StorageRejected, StorageUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Paths shared by several domains.
USERS = "users"
#: Sorts after every character of the document ids the service writes: the end of an id range.
ID_END = "\uf8ff"


def _transient_or_aborted(exc: BaseException) -> bool:
    return retry_async.if_transient_error(exc) or isinstance(exc, gexc.Aborted)


class Storage:
    """The process's ``firestore.AsyncClient`` with the service's retry policy and deadline.

    Args:
        client: the client (one per process, built in the app lifespan or a CLI command).
        timeout_seconds: overall deadline of each call, retries included.
        retry_after_seconds: what a 503 tells the client to wait (``Retry-After``).
    """

    def __init__(self, client: firestore.AsyncClient, *, timeout_seconds: float, retry_after_seconds: int = 1) -> None:
        self.client = client
        self.timeout = timeout_seconds
        self.retry_after_seconds = retry_after_seconds
        self.retry = retry_async.AsyncRetry(
            predicate=retry_async.if_transient_error, initial=0.05, maximum=1.0, multiplier=2.0,
            timeout=timeout_seconds,
        )
        #: For an atomic batch that holds no read (a close): an ``Aborted`` commit wrote
        #: nothing, so it is retried too. Firestore aborts such a write when it contends with
        #: a transaction that read one of its documents (a merge of aggregate shards).
        self.batch_retry = retry_async.AsyncRetry(
            predicate=_transient_or_aborted, initial=0.05, maximum=1.0, multiplier=2.0, timeout=timeout_seconds,
        )

    @classmethod
    def connect(cls, project_id: str, *, timeout_seconds: float, retry_after_seconds: int = 1) -> Storage:
        """A new client for ``project_id`` (the emulator when ``FIRESTORE_EMULATOR_HOST`` is set).

        Raises:
            StorageNotConfigured: no emulator address and no credentials.
        """
        try:
            client = firestore.AsyncClient(project=project_id)
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise StorageNotConfigured(
                "No Firestore to talk to: set FIRESTORE_EMULATOR_HOST to an emulator's address (scripts/serve "
                "prints it), or GOOGLE_APPLICATION_CREDENTIALS for a real project.") from exc
        return cls(client, timeout_seconds=timeout_seconds, retry_after_seconds=retry_after_seconds)

    def close(self) -> None:
        """Close the client's channel."""
        self.client.close()

    def error_for(self, exc: BaseException) -> ServiceError:
        """The domain error for a storage failure. A refusal that cannot change on retry (an
        invalid argument, a failed precondition that is no lost race, permission denied)
        is :class:`StorageRejected`, logged with its cause; anything else (unavailable,
        deadline, aborted, quota) is a retryable :class:`StorageUnavailable`."""
        if isinstance(exc, (gexc.InvalidArgument, gexc.FailedPrecondition, gexc.PermissionDenied)):
            log.error("storage refused a write for good: %s: %s", type(exc).__name__, exc)
            return StorageRejected("Firestore refused this write for good (a storage limit or an invalid "
                                   "argument); nothing was written. Retrying will not help: report it.")
        return self.unavailable(exc)

    def unavailable(self, exc: BaseException) -> StorageUnavailable:
        """The retryable domain error for a storage failure (logged with its type only)."""
        log.warning("storage failure: %s", type(exc).__name__)
        return StorageUnavailable(
            "The trade store is unavailable right now; nothing was changed that you cannot "
            "retry. Retry after the delay given in Retry-After.",
            headers={"Retry-After": str(self.retry_after_seconds)},
        )

    async def read_snapshot(self, reader: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``await reader(tx)`` inside a read-only transaction: every read through ``tx``
        sees one consistent snapshot, and no lock is taken. Bounded by the deadline."""
        transaction = self.client.transaction(read_only=True)

        @firestore.async_transactional
        async def run(tx: Any) -> T:
            return await reader(tx)

        try:
            # the transaction's begin and commit calls take the library's own (long)
            # deadlines: bound the whole read by ours
            return await asyncio.wait_for(run(transaction), self.timeout)
        except asyncio.TimeoutError:
            raise gexc.DeadlineExceeded(f"read-only transaction took more than {self.timeout} s") from None
        except ValueError as exc:
            # when the transaction could not even begin, the library's rollback raises
            # ValueError over the storage error: surface a storage error (a 503)
            if "cannot be rolled back" in str(exc):
                raise gexc.ServiceUnavailable("read-only transaction could not begin") from exc
            raise

    async def get_many(self, refs: list[Any]) -> list[tuple[dict[str, Any] | None, Any]]:
        """Several documents in one round trip: ``(fields or None when missing, update
        time)`` in the order of ``refs``."""
        found: dict[str, tuple[dict[str, Any], Any]] = {}
        async for snap in self.client.get_all(refs, retry=self.retry, timeout=self.timeout):
            if snap.exists:
                found[snap.reference.path] = (snap.to_dict() or {}, snap.update_time)
        return [found.get(ref.path, (None, None)) for ref in refs]

    async def ping(self) -> None:
        """Read one small document, so that a failure proves Firestore unreachable."""
        await self.client.collection("systemStatus").document("config").get(retry=None, timeout=min(self.timeout, 3.0))


class Repository:
    """Base of the domain repositories: holds the :class:`Storage`; every public coroutine
    method of a subclass turns storage failures into :class:`StorageUnavailable` (503)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.client = storage.client
        self.retry = storage.retry
        self.timeout = storage.timeout

    def id_range(self, col: Any, first: str, last: str, fields: list[str] | None = None) -> Any:
        """The documents of collection ``col`` whose ids are in ``[first, last + END]``
        (``END`` sorts after every id character the service writes), in id order; with
        ``fields``, only those fields (``[]``: none, ids only)."""
        query: Any = col.select(fields) if fields is not None else col
        return (query.where(filter=firestore.FieldFilter(FieldPath.document_id(), ">=", col.document(first)))
                .where(filter=firestore.FieldFilter(FieldPath.document_id(), "<=", col.document(last + ID_END)))
                .order_by(FieldPath.document_id()))

    async def run_merge(self, run: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``run`` (an ``@firestore.async_transactional`` function) in a new transaction.
        When it lost every attempt to contention (the client then raises ``ValueError``
        from the last ``Aborted``): a retryable :class:`StorageUnavailable`."""
        try:
            return await run(self.client.transaction())
        except ValueError as exc:
            if isinstance(exc.__cause__, gexc.GoogleAPIError):
                raise self.storage.unavailable(exc.__cause__) from exc
            raise

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if name.startswith("_"):
                continue
            if inspect.iscoroutinefunction(member):
                setattr(cls, name, _translated(member))
            elif inspect.isasyncgenfunction(member):
                setattr(cls, name, _translated_gen(member))


def _translated(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    @functools.wraps(method)
    async def wrapper(self: Repository, *args: Any, **kwargs: Any) -> T:
        try:
            return await method(self, *args, **kwargs)
        except (gexc.GoogleAPIError, asyncio.TimeoutError) as exc:
            raise self.storage.error_for(exc) from exc

    return wrapper


def _translated_gen(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def wrapper(self: Repository, *args: Any, **kwargs: Any) -> Any:
        try:
            async for item in method(self, *args, **kwargs):
                yield item
        except (gexc.GoogleAPIError, asyncio.TimeoutError) as exc:
            raise self.storage.error_for(exc) from exc

    return wrapper
