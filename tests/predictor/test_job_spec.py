"""A training job's settings: each bounded, read from a form's text or a JSON body alike, and
every refusal naming the field, the value and what was expected."""

from __future__ import annotations

import pytest

from stockPredictor.errors import DataError, JobSettingError
from stockPredictor.jobs.spec import ARCHITECTURES, LIMITS, JobSpec
from stockPredictor.model.config import ModelConfig, TrainConfig


def test_a_form_of_strings_and_a_json_body_of_numbers_give_the_same_job():
    form = JobSpec.from_mapping({"ticker": " ibm ", "upload_id": "", "arch": "Attention",
                                 "window": "20", "units": "8", "layers": "2", "epochs": "3",
                                 "learning_rate": "0.01", "days": "300"})
    body = JobSpec.from_mapping({"ticker": "IBM", "arch": "attention", "window": 20, "units": 8,
                                 "layers": 2, "epochs": 3.0, "learning_rate": 0.01, "days": 300})
    assert form == body
    assert (form.ticker, form.upload_id, form.window, form.learning_rate) == ("IBM", None, 20, 0.01)


def test_to_dict_reads_back_to_the_same_job():
    spec = JobSpec(upload_id=7, window=12, learning_rate=0.002)
    assert JobSpec.from_mapping(spec.to_dict()) == spec
    assert spec.to_dict()["upload_id"] == 7 and spec.to_dict()["ticker"] is None


def test_it_builds_the_package_configs_it_names():
    spec = JobSpec(ticker="MSFT", arch="attention", window=10, units=4, layers=2, epochs=2,
                   learning_rate=0.02)
    model, train = spec.model_config(), spec.train_config()
    assert isinstance(model, ModelConfig) and isinstance(train, TrainConfig)
    assert (model.arch, model.window, model.units, model.layers) == ("attention", 10, 4, 2)
    assert (train.epochs, train.learning_rate) == (2, 0.02)


@pytest.mark.parametrize("field", ["window", "units", "layers", "epochs", "days"])
def test_whole_number_bounds_are_inclusive_and_one_past_is_refused(field):
    low, high = LIMITS[field]
    assert getattr(JobSpec.from_mapping({"ticker": "IBM", field: low}), field) == low
    assert getattr(JobSpec.from_mapping({"ticker": "IBM", field: str(high)}), field) == high
    for bad in (low - 1, high + 1):
        with pytest.raises(JobSettingError) as caught:
            JobSpec.from_mapping({"ticker": "IBM", field: bad})
        error = caught.value
        assert error.field == field and isinstance(error, DataError)
        message = str(error)
        assert f"{field}={bad}" in message and f"from {low} to {high}" in message


@pytest.mark.parametrize("bad", ["0.00001", 0.5, "nan", "inf", "-0.01", "fast", True, [0.01]])
def test_a_learning_rate_outside_its_bounds_or_not_a_number_is_refused(bad):
    with pytest.raises(JobSettingError, match=r"learning_rate=.* from 0\.0001 to 0\.05") as caught:
        JobSpec.from_mapping({"ticker": "IBM", "learning_rate": bad})
    assert caught.value.field == "learning_rate"


@pytest.mark.parametrize("bad", [True, False, "3.5", 3.5, "ten", [3], "1e1", "0x10"])
def test_a_bool_a_fraction_or_text_is_not_a_whole_number(bad):
    with pytest.raises(JobSettingError, match="epochs=") as caught:
        JobSpec.from_mapping({"ticker": "IBM", "epochs": bad})
    assert caught.value.field == "epochs"


def test_a_blank_form_field_takes_its_default():
    assert JobSpec.from_mapping({"ticker": "IBM", "epochs": " ", "window": None}) == \
        JobSpec(ticker="IBM")


@pytest.mark.parametrize("data", [{}, {"ticker": "", "upload_id": ""},
                                  {"ticker": "IBM", "upload_id": 3}])
def test_exactly_one_of_ticker_or_upload_id(data):
    with pytest.raises(JobSettingError, match="exactly one of ticker or upload_id") as caught:
        JobSpec.from_mapping(data)
    assert caught.value.field == "ticker"


@pytest.mark.parametrize("ticker", ["IBM;DROP", "X" * 16, "a b", 42])
def test_a_ticker_goes_through_the_package_s_ticker_rule(ticker):
    with pytest.raises(JobSettingError, match="ticker") as caught:
        JobSpec.from_mapping({"ticker": ticker})
    assert caught.value.field == "ticker"


@pytest.mark.parametrize("upload_id", [0, -3, "x", True, 2.5])
def test_an_upload_id_must_be_a_positive_whole_number(upload_id):
    with pytest.raises(JobSettingError, match="upload_id=") as caught:
        JobSpec.from_mapping({"upload_id": upload_id})
    assert caught.value.field == "upload_id"


def test_an_unknown_architecture_names_the_ones_there_are():
    with pytest.raises(JobSettingError) as caught:
        JobSpec.from_mapping({"ticker": "IBM", "arch": "transformer"})
    assert caught.value.field == "arch"
    assert "'transformer'" in str(caught.value)
    assert all(arch in str(caught.value) for arch in ARCHITECTURES)


def test_an_unknown_key_is_refused_naming_it():
    with pytest.raises(JobSettingError, match="'dropout' is not a job setting") as caught:
        JobSpec.from_mapping({"ticker": "IBM", "dropout": 0.5})
    assert caught.value.field == "dropout"


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(JobSettingError, match="object"):
        JobSpec.from_mapping(["ticker", "IBM"])  # type: ignore[arg-type]


def test_a_job_built_directly_is_checked_too():
    with pytest.raises(JobSettingError, match="window=500"):
        JobSpec(ticker="IBM", window=500)
    assert JobSpec(ticker="ibm").ticker == "IBM"


def test_a_long_value_is_quoted_only_in_part():
    with pytest.raises(JobSettingError) as caught:
        JobSpec.from_mapping({"ticker": "IBM", "arch": "z" * 5000})
    assert len(str(caught.value)) < 200
