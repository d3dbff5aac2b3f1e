"""The one typed settings object: read once from the environment (LANTERN_*), then passed in."""

from pathlib import Path
from typing import Literal

from pydantic import ByteSize, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["LOOPBACK_NAMES", "Settings", "check_public_serving", "get_settings", "is_loopback"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "testserver")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANTERN_", extra="forbid")

    data_dir: Path = Field(Path("data"), description="Where uploads, jobs and results are stored.")
    weights_dir: Path = Field(
        Path("models"),
        description="Local weight files for torchvision models: NAME.safetensors or NAME.pth.",
    )
    default_model: str = Field("efficientnet-lite0", description="Model used when none is named.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto = CUDA when present, else CPU."
    )
    max_image_bytes: int = Field(20 * 1024 * 1024, gt=0, le=200 * 1024 * 1024)
    max_image_pixels: int = Field(40_000_000, gt=0, le=200_000_000)
    max_weights_bytes: int = Field(1024 * 1024 * 1024, gt=0)
    fast_forward: bool = Field(
        True,
        description="Run forward-only methods (occlusion, KernelSHAP) on ONNX Runtime on the CPU.",
    )
    job_workers: int = Field(2, ge=1, le=64, description="Jobs that run at the same time.")
    max_queued_jobs: int = Field(
        64, ge=0, le=10_000, description="Jobs that may wait; more are refused with 503."
    )
    kept_jobs: int = Field(
        512, ge=16, le=100_000, description="Finished jobs (and their results) kept for reuse."
    )
    kept_images: int = Field(256, ge=4, le=100_000, description="Uploaded images kept.")
    kept_compression_runs: int = Field(
        20, ge=1, le=10_000, description="Compression runs (reports and variant files) kept."
    )
    max_job_memory: ByteSize = Field(
        ByteSize(6 * 2**30),
        gt=64 * 2**20,
        description="Estimated peak memory one job may take (bytes, or e.g. '6GiB'); a job "
        "over it is refused with 422. Two workers at 6 GiB fit a 24 GB machine.",
    )
    kept_datasets: int = Field(
        20, ge=1, le=10_000, description="Uploaded evaluation sets (zips) kept, most recent first."
    )
    job_timeout_seconds: float = Field(
        600.0, gt=0, le=86_400, description="A running job past this ends as 'timeout'."
    )
    shutdown_grace_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="On SIGTERM, how long running jobs may finish before they are failed.",
    )
    max_dataset_bytes: int = Field(
        200 * 1024 * 1024,
        gt=0,
        le=4 * 1024 * 1024 * 1024,
        description="Limit of an uploaded zip of evaluation images (compression lab).",
    )
    ray_address: str | None = Field(
        None,
        max_length=300,
        description="host:port of a running Ray cluster (`ray start --head`) that audits join "
        "when no --ray-address is given; unset: a local Ray inside the process.",
    )
    max_request_bytes: int = Field(
        1024 * 1024, gt=0, le=100 * 1024 * 1024, description="Limit of a JSON request body."
    )
    api_token: SecretStr | None = Field(
        None,
        description="When set, every page and API route needs it (header, or the login page's "
        "cookie). At least 16 characters.",
    )
    rate_limit_per_minute: int = Field(
        1200, ge=0, le=1_000_000, description="API requests per client address; 0 = no limit."
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: list(LOOPBACK_NAMES),
        description="Without a token, the host names this server answers to (the Host header; "
        "a JSON list; '*' = any). Refuses DNS rebinding. 'testserver' is the test client's.",
    )
    insecure_public: bool = Field(
        False,
        description="Allow serving on a non-loopback address without an API token: anyone "
        "who can reach the port can use (and load) the server.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from other sites (JSON list); none = off.",
    )

    @field_validator("device")
    @classmethod
    def _device_available(cls, value: str) -> str:
        if value != "cuda":
            return value  # without importing torch (lantern models, methods: no torch)
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but no CUDA device is available")
        return value

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if value == "" else value  # LANTERN_API_TOKEN= (empty) means no token

    @field_validator("api_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the API token must have at least 16 characters")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError("name the allowed origins; '*' would let any site use the API")
        return value

    def torch_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device


def is_loopback(host: str) -> bool:
    """Whether a listening address reaches only this machine (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_public_serving(settings: Settings, host: str) -> None:
    """Refuse to listen beyond this machine without a token, unless explicitly allowed."""
    if is_loopback(host) or settings.api_token is not None or settings.insecure_public:
        return
    from app.errors import BadParameter

    raise BadParameter(
        f"refusing to serve on {host} without an API token: anyone who can reach it could use "
        "the server. Set LANTERN_API_TOKEN (16+ characters), listen on 127.0.0.1, or accept "
        "the risk with --insecure-public (LANTERN_INSECURE_PUBLIC=true)"
    )


def get_settings() -> Settings:
    """Settings from the environment; call once at the edge (CLI, app factory) and pass on."""
    return Settings()
