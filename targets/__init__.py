from snnc.targets.target import LOIHI1, LOIHI2, Target, get_target, known_targets
