"""``python -m genstyle_causal.data``: print each dataset's factors and render a few images."""

import jax

from . import DATASETS


def main() -> None:
    for name, cls in DATASETS.items():
        data = cls()
        factors, images = data.sample(jax.random.key(0), 4)
        print(f"{name}: images {tuple(images.shape[1:])}, combinations {data.num_combinations or 'continuous'}")
        for f in data.factors:
            size = "continuous" if f.continuous else f"{f.size} values"
            print(f"  {f.name:<16} {f.role:<8} {size:<12} [{f.low:.3g}, {f.high:.3g}]")


if __name__ == "__main__":
    main()
