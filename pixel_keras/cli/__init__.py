"""The command line of pixel_keras: `pixel-keras` (the console script) and
`python main.py` in a checkout, an application of the library.

- `main.py`: `run`, the console script: parses the flags, runs a command.
- `flags.py`: the flags.
- `config.py`: a run's settings, the recipe's replaced by the flags given.
- `registry.py`: the models `--model` names, built from the flags.
- `commands.py`: train, eval, sample, complete, export, compress and
  decompress (`commands.run`).
- `image_files.py`: the images `compress` reads and `decompress` writes.
- `figures.py`: the figures of `eval` and `complete`.

Importing this package defines no flag: only `flags.py` (which `main.py`
imports) does.
"""

__all__ = ["commands", "config", "figures", "flags", "image_files", "main", "registry"]
