"""The command line of pixel_keras (`main.py`): an application of the
library, kept outside it.

- `flags.py`: the flags.
- `config.py`: a run's settings, the recipe's replaced by the flags given.
- `registry.py`: the models `--model` names, built from the flags.
- `commands.py`: train, eval, sample, complete and export.
"""
