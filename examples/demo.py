"""snnc demo: train a small Keras CNN on sklearn's digits, compile it for Loihi 2, compare ANN and SNN,
export it as a NIR graph, and verify the Lava processes against the JAX reference bit for bit.

Run with `make demo`. Writes its files to out/demo/.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from snnc.cli import main  # noqa: E402

OUT = Path("out/demo")


def train_lenet(x_train, y_train) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.Dropout(0.25),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=40, batch_size=32, verbose=0)
    return model


def run() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    np.savez(OUT / "calibration.npz", x=x_train)
    np.savez(OUT / "test.npz", x=x_test, y=y_test)
    print("training a LeNet on sklearn digits (Keras, JAX backend)...")
    train_lenet(x_train, y_train).save(OUT / "lenet.h5")
    for argv in (
        ["compile", str(OUT / "lenet.h5"), "--target", "loihi2", "--calibration", str(OUT / "calibration.npz"),
         "-o", str(OUT / "lenet.snn")],
        ["evaluate", str(OUT / "lenet.snn"), "--data", str(OUT / "test.npz"), "--timesteps", "8,16,32,64,128"],
        ["export", str(OUT / "lenet.snn"), "--format", "nir", "-o", str(OUT / "lenet.nir")],
        ["verify", str(OUT / "lenet.snn"), "--data", str(OUT / "test.npz"), "--samples", "2", "--timesteps", "24"],
    ):
        print("\n$ snnc " + " ".join(argv))
        if main(argv) != 0:
            raise SystemExit(1)


if __name__ == "__main__":
    run()
