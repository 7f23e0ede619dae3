"""Bad domain queries (issue 11, item 1): a config cannot run code.

Queries are parsed by emoshift's own grammar (emoshift.data.query); every form that
reaches Python in pandas' query/eval is rejected with the allowed form, and nothing runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from emoshift.cli import main
from emoshift.data.query import ALLOWED_FORM, QueryError, query_mask
from emoshift.data.table import make_table, select_domain
from emoshift.experiment.config import ConfigError, load_config, parse_config
from emoshift.experiment.data import ExperimentData, load_corpora
from emoshift.experiment.protocols import make_split

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


def _shell_query(marker: Path) -> str:
    return f"@os.system('touch {marker}') == 0 or corpus == 'urdu'"


@pytest.fixture
def table() -> pd.DataFrame:
    return make_table(
        [
            {"file": f"/x/{i}.wav", "corpus": c, "speaker": s, "emotion": "anger"}
            for i, (c, s) in enumerate(
                [("emodb", "03"), ("emodb", "08"), ("urdu", "SM1"), ("urdu", "SF2")]
            )
        ]
    )


@pytest.mark.bad_input
def test_shell_command_corpus_query_is_rejected_and_not_run(table, tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(QueryError, match="'@' .local variables. is not allowed"):
        select_domain(table, _shell_query(marker), "corpora.urdu.query")
    assert not marker.exists()


@pytest.mark.bad_input
def test_shell_command_pair_query_is_rejected_when_trials_split(table, tmp_path):
    marker = tmp_path / "pwned"
    data = ExperimentData(table=table, X=np.zeros((4, 2)), y=np.array(["anger"] * 4))
    with pytest.raises(QueryError, match="is not allowed"):
        make_split(data, "corpus == 'emodb'", _shell_query(marker), "cross_domain", trial=0, seed=0)
    assert not marker.exists()


def _config(tmp_path: Path, *, corpus_query: str | None = None, target: str | None = None) -> dict:
    clips = tmp_path / "clips"
    clips.mkdir(exist_ok=True)
    rows = ["path,label,spk"]
    for i in range(4):
        sf.write(clips / f"{i}.wav", 0.1 * np.sin(np.arange(3200) / 5.0), 16000)
        rows.append(f"clips/{i}.wav,ang,{i}")
    (tmp_path / "meta.csv").write_text("\n".join(rows) + "\n")
    corpus = {
        "loader": "csv",
        "path": "meta.csv",
        "options": {"corpus": "urdu", "label_map": {"ang": "anger"}, "columns": {"file": "path"}},
    }
    if corpus_query is not None:
        corpus["query"] = corpus_query
    return {
        "name": "bad-query",
        "corpora": {"urdu": corpus},
        "pairs": [{"source": "speaker == 'urdu_0'", "target": target or "speaker == 'urdu_1'"}],
        "methods": {"source_only": {}},
    }


@pytest.mark.bad_input
@pytest.mark.parametrize("where", ["config.corpora.urdu.query", "config.pairs[0].target"])
def test_shell_command_query_in_dry_run_is_rejected_and_not_run(tmp_path, capsys, where):
    marker = tmp_path / "pwned"
    query = _shell_query(marker)
    config = _config(
        tmp_path, **({"corpus_query": query} if "corpora" in where else {"target": query})
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert where in error and "'@' (local variables)" in error and ALLOWED_FORM in error
    assert not marker.exists()


@pytest.mark.bad_input
def test_shell_command_corpus_query_is_not_run_when_corpora_load(tmp_path):
    """Even a query that skipped the config check (set after parsing) never runs."""
    marker = tmp_path / "pwned"
    config = parse_config(_config(tmp_path), base_dir=tmp_path)
    config.corpora["urdu"].query = _shell_query(marker)
    with pytest.raises(QueryError, match=r"corpora\.urdu\.query"):
        load_corpora(config, progress=False)
    assert not marker.exists()


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("corpus.str.contains('emo')", "attribute access"),
        ("len(corpus) > 3", "function calls"),
        ("corpus[0] == 'e'", "subscripts"),
        ("(lambda: 1)() == 1", "lambdas"),
        ("lambda == 1", "lambdas are not allowed"),
        ("__import__ == 1", "dunder name"),
        ("`corpus`.__class__ == 1", "attribute access"),
        ("corpus = 'emodb'", "assignment"),
        ("corpus == 'a' if True else False", "conditional expressions are not allowed"),
        ("{corpus} == 1", "dicts and sets"),
        ("corpus == 'emodb' and", "at the end"),
        ("corpus in 'emodb'", "take a list of literals"),
        ("corpus in [speaker]", "only literals"),
        ("corpus is None", "'is' is not allowed"),
        ("(" * 5000 + "corpus == 'a'" + ")" * 5000, "nested too deeply"),
    ],
)
def test_query_outside_the_grammar_is_rejected_with_the_allowed_form(table, query, problem):
    with pytest.raises(QueryError) as error:
        select_domain(table, query, "pairs[0].source")
    message = str(error.value)
    assert problem in message and ALLOWED_FORM in message and "(pairs[0].source)" in message


@pytest.mark.bad_input
def test_unknown_column_is_named_with_the_columns(table):
    with pytest.raises(QueryError) as error:
        select_domain(table, "courpus == 'emodb'")
    assert "unknown column(s) ['courpus']" in str(error.value)
    assert "'corpus'" in str(error.value) and "'speaker'" in str(error.value)


@pytest.mark.bad_input
def test_config_with_unknown_query_syntax_fails_at_load(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, target="speaker.upper() == 'X'")))
    with pytest.raises(ConfigError, match=r"config\.yaml: query .*config\.pairs\[0\]\.target"):
        load_config(path)


@pytest.mark.bad_input
def test_arithmetic_on_strings_is_rejected(table):
    with pytest.raises(QueryError, match="numbers only"):
        select_domain(table, "corpus * 1000000000 == 'x'")


def test_query_grammar_selects_what_pandas_query_selected(table):
    """The forms the configs and tests use, with missing values, against fixed answers."""
    table = table.assign(
        session=pd.array(["Mont", None, "Ohm", None], dtype="string"),
        arousal=[0.5, np.nan, -0.3, 0.1],
        **{"my col": [1, 2, 3, 4]},
    )
    cases = {
        "corpus == 'emodb'": [0, 1],
        "corpus == 'emodb' and session == 'Mont'": [0],
        "session != 'Mont'": [1, 2, 3],
        "not session == 'Mont'": [1, 2, 3],
        "session in ['Mont', 'Ohm']": [0, 2],
        "session not in ['Mont']": [1, 2, 3],
        "index % 3 == 0": [0, 3],
        "0 < arousal < 0.4": [3],
        "arousal > 0 or corpus == 'urdu'": [0, 2, 3],
        "-arousal >= 0.3 | (speaker == '08')": [1, 2],
        "~(corpus == 'urdu') & `my col` >= 2": [1],
        "corpus == ['urdu']": [2, 3],
    }
    for query, rows in cases.items():
        assert query_mask(table, query).to_numpy().nonzero()[0].tolist() == rows, query


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_query_is_in_the_grammar(path):
    load_config(path)  # parses every query; raises ConfigError otherwise
