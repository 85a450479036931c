"""Early stopping on scikit-learn's digits: a 64-128-10 relu network trained with Adam, a
cosine learning-rate schedule and clipping, watching val_loss on the last 20% of the training
data; EarlyStopping restores the best epoch's parameters. Saves the loss curves drawn by
History.plot() (needs scikit-learn for the data and matplotlib for the picture).

    python examples/early_stopping_digits.py [--plot docs/early_stopping.png]
"""
import argparse

import numpy as np

import fastprop as fp


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plot", default=None, help="write the loss curves to this PNG")
    args = p.parse_args(argv)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25,
                                                        random_state=0, stratify=y)
    net = fp.mlp([64, 128, 10], hidden="relu", output="softmax", loss="cross_entropy", seed=0)
    stop = fp.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    hist = net.fit(X_train, y_train, epochs=300, batch_size=32, optimizer=fp.Adam(lr=3e-3),
                   validation_split=0.2, metrics=["accuracy"], callbacks=[stop],
                   schedule=fp.schedules.CosineAnnealingLR(T_max=300), clip_norm=5.0)
    test_acc = float(np.mean(net.predict(X_test).argmax(axis=1) == y_test))
    print(f"stopped after epoch {hist.stopped_epoch} (0-based), best epoch {hist.best_epoch}: "
          f"val_loss {hist.val_loss[hist.best_epoch]:.4f}, val_accuracy "
          f"{hist.val_accuracy[hist.best_epoch]:.4f}; test accuracy {test_acc:.4f} "
          f"({hist.seconds * 1e3:.0f} ms of training)")
    if args.plot:
        fig = hist.plot()
        fig.savefig(args.plot, dpi=90, bbox_inches="tight")
        print(f"loss curves written to {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
