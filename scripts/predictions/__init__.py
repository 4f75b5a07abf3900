"""Published forecasts, their resolutions and their scores, as a Datasette-ready SQLite database.

A library first, as the CLI is a thin layer over it::

    from predictions import find, write

    dataset = find("path/to/blog")        # its predictions.toml, or the folder itself
    corpus, _ = write(dataset)            # builds dataset.db_path; raises InputError on bad input
"""

__version__ = "0.1.0"

from .build import collect_dataset, write  # noqa: E402
from .config import Dataset, Source, find  # noqa: E402
from .errors import InputError  # noqa: E402

__all__ = ["Dataset", "InputError", "Source", "collect_dataset", "find", "write"]
