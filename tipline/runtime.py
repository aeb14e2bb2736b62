"""Process-wide resources built once from settings: engine, sessions, config, Redis."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tipline.crypto import PublicKey
from tipline.crypto import recovery as recovery_keys
from tipline.db import make_engine, make_sessionmaker
from tipline.settings import Settings
from tipline.store import AttachmentStore
from tipline.triage.config import TiplineConfig, load_config


@dataclass
class Runtime:
    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def config(self) -> TiplineConfig:
        return load_config(self.settings.config_dir)

    @cached_property
    def redis(self) -> redis.Redis:
        # Short timeouts: when Redis is down intake must answer quickly and fall back to
        # the outbox instead of hanging the tipster's request.
        return redis.Redis.from_url(
            self.settings.effective_redis_url,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
        )

    @cached_property
    def store(self) -> AttachmentStore:
        return AttachmentStore(self.settings.data_dir)

    @cached_property
    def recovery_public(self) -> PublicKey:
        return recovery_keys.read_public(self.settings.keys_dir)

    def key(self, *parts: str) -> str:
        """A Redis key under this deployment's prefix."""
        return ":".join((self.settings.redis_prefix, *parts))

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        if "redis" in self.__dict__:
            self.redis.close()
