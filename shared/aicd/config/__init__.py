"""The ``aicd.yml`` schema: one typed section per gate, with errors that point at file and line.

Unknown keys are errors (a typo must not silently fall back to a default), types are checked,
and every default is the story's default and documented in the README. Keys are kebab-case like
the action inputs. Each section lives in its own module (:mod:`.data`, :mod:`.model`,
:mod:`.monitor`, :mod:`.deploy`) as dataclasses whose fields declare their keys; :mod:`.reader`
reads any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .data import DRIFT_METHODS, DTYPES, ColumnSpec, DataConfig, DriftConfig, DriftOverride, FreshnessConfig
from .deploy import STRATEGIES, AbConfig, BlueGreenConfig, CanaryConfig, DeployConfig, KubernetesConfig
from .model import (
    DEFAULT_ESTIMATOR,
    DEFAULT_PARAMS,
    TASKS,
    CompareConfig,
    DecisionThreshold,
    ModelConfig,
    SliceConfig,
    SplitConfig,
    looks_like_regressor,
)
from .monitor import LiveDriftConfig, MonitorConfig, window_seconds
from .reader import Reader, compose, read_section

__all__ = [
    "DEFAULT_ESTIMATOR",
    "DEFAULT_PARAMS",
    "DRIFT_METHODS",
    "DTYPES",
    "STRATEGIES",
    "TASKS",
    "AbConfig",
    "BlueGreenConfig",
    "CanaryConfig",
    "ColumnSpec",
    "CompareConfig",
    "Config",
    "DataConfig",
    "DecisionThreshold",
    "DeployConfig",
    "DriftConfig",
    "DriftOverride",
    "FreshnessConfig",
    "KubernetesConfig",
    "LiveDriftConfig",
    "ModelConfig",
    "MonitorConfig",
    "SliceConfig",
    "SplitConfig",
    "load_config",
    "looks_like_regressor",
    "parse_config",
    "window_seconds",
]


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)
    file: str = field(default="aicd.yml")
    lines: dict[str, int] = field(default_factory=dict, repr=False)

    def line_of(self, path: str) -> int | None:
        """The line of a dotted key path such as ``data.columns.age.min``, if it was in the file."""
        return self.lines.get(path)


def load_config(path: str | Path | None) -> Config:
    """Read and validate ``aicd.yml``; ``None`` or an empty path gives the all-defaults config."""
    if not path:
        return Config(file="(defaults)")
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", file=file, hint="check the `config` input path") from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", file=file, hint="name the aicd.yml file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte {exc.start})", file=file,
                          hint="the config must be a YAML text file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", file=file) from None
    return parse_config(text, file)


def parse_config(text: str, file: str = "aicd.yml") -> Config:
    """Validate aicd.yml's text; every mistake is a ConfigError naming ``file``, line and key."""
    raw, lines = compose(text, file)
    return read_section(Reader(file, lines), Config, raw, "", {"file": file, "lines": lines})
