"""CUDA backend switches: not built; `matmul.allow_tf32` and friends can be set and change
nothing."""


class _Flags:
    def __init__(self, **flags):
        self.__dict__.update(flags)


matmul = _Flags(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                allow_bf16_reduced_precision_reduction=True)


def is_built():
    return False
