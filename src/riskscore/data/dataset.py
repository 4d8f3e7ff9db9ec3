"""What a dataset says about itself (`dataset.toml` beside its Parquet files): its home
country and the extra columns it brings.

The home country decides which parties are domestic firms (they must be in the register, when
there is one) and which flows are imports and exports; Kazakhstan unless the dataset says
otherwise. Extras are the user's own columns (`extra.<name>` in `documents.parquet`), each
numeric or categorical, which become features of the model.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riskscore.errors import ConfigError
from riskscore.reference import HOME_COUNTRY
from riskscore.schema import COUNTRY_PATTERN, EXTRA_NAME_PATTERN, MAX_EXTRAS

INFO_FILE = "dataset.toml"
ExtraKind = Literal["numeric", "categorical"]
ExtraName = Annotated[str, Field(pattern=EXTRA_NAME_PATTERN)]


class DatasetInfo(BaseModel):
    """A dataset's settings: home country and extra columns (name -> kind)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home_country: str = Field(HOME_COUNTRY, pattern=COUNTRY_PATTERN)
    extras: dict[ExtraName, ExtraKind] = Field(default_factory=dict, max_length=MAX_EXTRAS)

    def to_toml(self) -> str:
        """The settings as `dataset.toml` text."""
        lines = [f'home_country = "{self.home_country}"', "", "[extras]"]
        lines += [f'{name} = "{kind}"' for name, kind in self.extras.items()]
        return "\n".join(lines) + "\n"


def read_info(directory: Path) -> DatasetInfo:
    """The settings of a dataset folder; the defaults when it has no `dataset.toml`."""
    path = Path(directory) / INFO_FILE
    if not path.exists():
        return DatasetInfo()
    try:
        return DatasetInfo.model_validate(tomllib.loads(path.read_text()))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"{path}: {problems}") from None


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A folder beside `out` to write a dataset into; it takes `out`'s place when the block
    ends normally and is removed when it fails, so `out` is never left half written. `out`
    must be missing, empty, or a dataset (it has a `dataset.toml`)."""
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not (out / INFO_FILE).exists():
        raise ConfigError(f"--out {out} is a folder that holds something other than a dataset")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)


def write_info(directory: Path, info: DatasetInfo) -> Path:
    """Write `dataset.toml` into a dataset folder."""
    path = Path(directory) / INFO_FILE
    path.write_text(info.to_toml())
    return path
