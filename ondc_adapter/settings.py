"""Configuration: environment variables prefixed ``ONDC_`` (and an optional ``.env`` file).

One ``Settings`` object is built at the edge (CLI, app factory) and passed down explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ondc_adapter.protocol.versions import DEFAULT_SERVED, RetailVersion, parse_versions

# ONDC registry X25519 public keys, used to answer on_subscribe challenges (protocol.md 2.1).
REGISTRY_ENCRYPTION_KEYS = {
    "staging": "MCowBQYDK2VuAyEAduMuZgmtpjdCuxv+Nc49K0cB6tL/Dj3HZetvVN7ZekM=",
    "preprod": "MCowBQYDK2VuAyEAa9Wbpvd9SsrpOZFcynyt/TO3x0Yrqyys4NUGIvyxX2Q=",
    "prod": "MCowBQYDK2VuAyEAvVEyZY91O2yV8w8/CAwVDAnqIZDJJUPdLUUKwLo3K0M=",
}

REGISTRY_URLS = {
    "staging": "https://staging.registry.ondc.org",
    "preprod": "https://preprod.registry.ondc.org",
    "prod": "https://prod.registry.ondc.org",
}

SUPPORTED_DOMAINS = ("ONDC:RET10", "ONDC:RET12", "ONDC:RET16")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ONDC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # identity
    subscriber_id: str = "seller.localhost"
    unique_key_id: str = "ukid-1"
    keys_dir: Path = Path("keys/local")
    # Public base URL of this node (registry subscriber_url); bpp_uri in every callback.
    bpp_uri: str = "http://127.0.0.1:8000"
    path_prefix: str = ""  # e.g. "/ondc" when the registry subscriber_url has a path

    # network
    registry_env: Literal["staging", "preprod", "prod", "local"] = "local"
    registry_url: str = "http://127.0.0.1:8001"
    registry_lookup: Literal["v2", "v1"] = "v2"
    registry_encryption_public_key: str | None = None  # default: the ONDC key for registry_env
    registry_timeout: float = 3.0
    registry_retries: int = 2
    lookup_cache_seconds: int = 1800
    search_requires_gateway: bool = False

    # storage
    database_url: str = "sqlite+aiosqlite:///./ondc-adapter.db"
    redis_url: str | None = None

    # protocol policy
    domains: list[str] = Field(default_factory=lambda: list(SUPPORTED_DOMAINS))
    # retail versions served, each request answered in its context.core_version
    # (protocol/versions.py); comma-separated in the environment ("1.2.0,1.2.5"), not JSON,
    # hence NoDecode. 1.2.0 alone until issue 16's 1.2.5 bodies exist: a node must not accept
    # a version it would answer in another.
    core_versions: Annotated[tuple[RetailVersion, ...], NoDecode] = DEFAULT_SERVED
    created_skew_seconds: int = 5
    timestamp_skew_seconds: int = 10
    max_request_ttl_seconds: int = 300
    rate_limit_per_second: int = 0
    signature_ttl_seconds: int = 300
    max_body_bytes: int = 1_000_000
    max_json_depth: int = 32

    # admission control (admission.py): refuse (503, Retry-After) what the backlog could not
    # answer within the request's ttl; searches first, order actions last
    admission_control: bool = True
    admission_max_pending: int = Field(default=5000, ge=1)
    admission_search_seconds: float = Field(default=4.0, gt=0)
    admission_order_seconds: float = Field(default=25.0, gt=0)

    # callbacks
    callback_timeout: float = 5.0
    # outbound calls (outbound.py): connect timeout, answer size cap, and whether loopback and
    # private networks may be targets (the sandbox and local test networks; never production)
    outbound_connect_timeout: float = 3.0
    outbound_max_response_bytes: int = Field(default=64 * 1024, ge=1024)
    allow_private_network: bool = False
    callback_backoff_initial: float = 0.2
    callback_backoff_max: float = 5.0
    dispatcher_poll_seconds: float = 0.2
    processor_concurrency: int = 4
    # inbox rows one processor transaction takes at most (they share its claim and commit)
    processor_batch: int = Field(default=16, ge=1, le=500)
    on_search_max_bytes: int = 2_000_000
    # serialised items kept in memory between searches (catalogue.on_search_cache); 0 turns it off
    on_search_cache_mb: int = Field(default=512, ge=0)
    # whole answers to filtered searches kept this long (catalogue.reply_cache); 0 turns it off
    search_reply_cache_seconds: float = Field(default=30.0, ge=0, le=300)
    # which stores answer a search of a city: only the stores located in it ("located", the
    # default: ONDC's log validator wants each provider's first store in context.city, so this
    # is what certifies), or every store serving it ("serving": the stores in the city first,
    # then those delivering there from elsewhere, e.g. a pan-India weaver's; the validator
    # flags each of those with invldAreaCode)
    search_stores: Literal["serving", "located"] = "located"
    # build the search index and fill that cache in the background at start-up
    catalogue_warm_up: bool = True

    # seller terms (charges, settlement, bpp_terms): a JSON file of OrderPolicy fields
    seller_terms_file: Path | None = None

    # issues and grievances (igm/): the times ONDC expects for a first response and for a
    # resolution (ISO 8601 durations), how early an issue counts as nearing them, and the
    # seller's support desk and grievance redressal officer (GRO) as IGM actors (the admin API
    # can replace both; a node without a GRO cannot go live on ONDC)
    igm_response_time: str = "PT1H"
    igm_resolution_time: str = "P1D"
    igm_warn_fraction: float = Field(default=0.25, gt=0, lt=1)
    igm_watch_seconds: float = Field(default=60.0, gt=0)
    igm_legacy_names: bool = True
    igm_support_name: str | None = None
    igm_support_email: str | None = None
    igm_support_phone: str | None = None
    gro_name: str | None = None
    gro_email: str | None = None
    gro_phone: str | None = None

    # seller admin API
    admin_api_key: SecretStr | None = None

    # onboarding
    site_verification_request_id: str | None = None

    # operations
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("core_versions", mode="before")
    @classmethod
    def _served_versions(cls, value: Any) -> tuple[RetailVersion, ...]:
        return parse_versions(value)

    @field_validator("path_prefix")
    @classmethod
    def _normalise_prefix(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            value = "/" + value
        return value

    @field_validator("bpp_uri")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def registry_public_key(self) -> str | None:
        if self.registry_encryption_public_key:
            return self.registry_encryption_public_key
        return REGISTRY_ENCRYPTION_KEYS.get(self.registry_env)
