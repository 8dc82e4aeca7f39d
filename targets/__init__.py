from snnc.targets.target import (KAPOHO_POINT, LOIHI1, LOIHI2, MAX_CHIPS, MAX_WEIGHT_BITS, Target, get_target, is_target_file,
                                 known_targets, resolve_target, target_file)
