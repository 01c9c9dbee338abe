"""Print a config fully resolved (``_base_`` files merged, overrides
applied), or list what the project registers.

Usage:
    python tools/analysis/print_config.py CONFIG [--cfg-options K=V ...]
        [--out resolved.py]
    python tools/analysis/print_config.py --registered [REGISTRY ...]

``--registered`` lists every class albef_mm registers, per registry
(``model``, ``dataset``, ``transform``, ``metric``, ``hook``, ``loop``,
...), the names a config's ``type=`` can use; give registry names to
restrict the listing.
"""
import argparse
import sys

from mmengine.config import Config, DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='config file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    parser.add_argument('--out', help='also write the resolved config here')
    parser.add_argument('--registered', nargs='*', default=None,
                        metavar='REGISTRY',
                        help='list registered classes instead')
    return parser.parse_args(argv)


def registered(names=None) -> dict:
    """``{registry name: sorted class names}`` of albef_mm's registries
    (their modules imported, so the listing is complete)."""
    import albef_mm.registry as reg
    registries = {}
    for attr in reg.__all__:
        registry = getattr(reg, attr)
        if not hasattr(registry, 'module_dict'):
            continue
        registry.import_from_location()
        registries[registry.name] = sorted(registry.module_dict)
    if names:
        unknown = sorted(set(names) - set(registries))
        if unknown:
            raise SystemExit(f'unknown registries {unknown}; known: '
                             f'{sorted(registries)}')
        registries = {n: registries[n] for n in names}
    return registries


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.registered is not None:
        for name, classes in registered(args.registered).items():
            if classes:
                print(f'{name} ({len(classes)}): {", ".join(classes)}')
        return 0
    if not args.config:
        raise SystemExit('give a config file, or --registered')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    print(cfg.pretty_text)
    if args.out:
        cfg.dump(args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
