"""Model files written by earlier releases still load: the class names they pickle resolve.

Those files name the classes by their public paths (``defectops.models.DefectClassifier``,
``defectops.features.FeatureBuilder``...), whatever module defines them today. The pickle below
is written opcode by opcode, so it does not depend on where the classes live now.
"""

from __future__ import annotations

import pickle
import pickletools
import struct

from defectops.features.builder import FeatureBuilder
from defectops.models.classifier import DefectClassifier
from defectops.models.fitting import FitRecord
from defectops.models.gbm import CalibratedBooster

#: every class an earlier release's gbm model file names, as it names them
PICKLED_NAMES = {
    ("defectops.models", "DefectClassifier"),
    ("defectops.models", "CalibratedBooster"),
    ("defectops.models", "FitRecord"),
    ("defectops.features", "FeatureBuilder"),
}


def _str(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)  # BININT


def _float(value: float) -> bytes:
    return b"G" + struct.pack(">d", value)  # BINFLOAT


def _list(items: list[bytes]) -> bytes:
    return b"](" + b"".join(items) + b"e"  # EMPTY_LIST, MARK, ..., APPENDS


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"  # MARK, ..., TUPLE


def _dict(items: dict[str, bytes]) -> bytes:
    body = b"".join(_str(key) + value for key, value in items.items())
    return b"}(" + body + b"u"  # EMPTY_DICT, MARK, ..., SETITEMS


def _instance(module: str, name: str, state: dict[str, bytes]) -> bytes:
    """``cls.__new__(cls)`` then its ``__dict__`` set from ``state``, as pickle stores objects."""
    cls = b"c" + f"{module}\n{name}\n".encode()  # GLOBAL
    return cls + b")\x81" + _dict(state) + b"b"  # EMPTY_TUPLE, NEWOBJ, state, BUILD


def old_model_file() -> bytes:
    features = _instance(
        "defectops.features",
        "FeatureBuilder",
        {
            "numeric": _tuple([_str("torque")]),
            "categorical": _tuple([_str("machine_id")]),
            "crosses": _str("auto"),
            "n_buckets": _int(64),
            "output": _str("codes"),
        },
    )
    booster = _instance(
        "defectops.models",
        "CalibratedBooster",
        {"booster": b"N", "slope": _float(1.5), "intercept": _float(-0.25)},
    )
    record = _instance(
        "defectops.models",
        "FitRecord",
        {
            "procedure": _str("cross-fit"),
            "rows": _int(900),
            "folds": _int(3),
            "fold_rounds": _list([_int(40), _int(44), _int(38)]),
            "rounds": _int(41),
            "setting": _dict({}),
            "settings_tried": _int(1),
        },
    )
    model = _instance(
        "defectops.models",
        "DefectClassifier",
        {
            "model": _str("gbm"),
            "numeric": _tuple([_str("torque")]),
            "categorical": _tuple([_str("machine_id")]),
            "n_buckets": _int(64),
            "threshold_objective": _str("f1"),
            "cost_ratio": _float(5.0),
            "validation_fraction": _float(0.15),
            "random_state": _int(42),
            "tune_seconds": _float(0.0),
            "features_": features,
            "estimator_": booster,
            "threshold_": _float(0.4),
            "fallbacks_": _list([]),
            "fit_record_": record,
        },
    )
    return b"\x80\x02" + model + b"."  # PROTO 2, ..., STOP


def test_the_pickle_names_the_classes_by_their_public_paths() -> None:
    names = {
        tuple(arg.split(" "))
        for op, arg, _ in pickletools.genops(old_model_file())
        if op.name == "GLOBAL"
    }
    assert names == PICKLED_NAMES


def test_public_class_names_of_old_model_files_resolve_to_the_current_classes() -> None:
    model = pickle.loads(old_model_file())

    assert type(model) is DefectClassifier
    assert type(model.features_) is FeatureBuilder
    assert type(model.estimator_) is CalibratedBooster
    assert type(model.fit_record_) is FitRecord
    assert model.get_params()["model"] == "gbm"
    assert (model.estimator_.slope, model.estimator_.intercept) == (1.5, -0.25)
    assert model.fit_record_.to_dict() == {
        "procedure": "cross-fit",
        "rows": 900,
        "folds": 3,
        "fold_rounds": [40, 44, 38],
        "rounds": 41,
        "setting": {},
        "settings_tried": 1,
    }
    assert model.features_.get_params()["n_buckets"] == 64
