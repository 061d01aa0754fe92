"""Walks traced TensorFlow graphs for matmuls that broadcast their batch.

TensorFlow 2.21's oneDNN batched matmul with a broadcast batch corrupts the
heap on AVX-512 CPUs (tensorflow#117700; see BUILD.md). This finds such
matmuls in a graph on any machine, before they run.
"""

BATCH_MATMULS = ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")


def _called_functions(op):
    """The names of the functions an op calls (while bodies, calls, conds)."""
    for attr in op.node_def.attr.values():
        if attr.HasField("func"):
            yield attr.func.name
        yield from (function.name for function in attr.list.func)


def _batch_shapes_differ(left, right):
    """True unless two operand shapes provably have the same batch shape.

    Two unknown dimensions count as equal (a traced unknown batch); an
    unknown rank, or a known dimension against an unknown one, does not.
    """
    if left.rank is None or right.rank is None:
        return True
    return left.as_list()[:-2] != right.as_list()[:-2]


def broadcasting_matmuls(graph, name=None, seen=None):
    """Every broadcasting batched matmul or einsum in `graph` and in every
    function it calls, as readable strings naming the function and shapes."""
    name = name or graph.name
    seen = set() if seen is None else seen
    found = []
    for op in graph.get_operations():
        if op.type in BATCH_MATMULS:
            left, right = (tensor.shape for tensor in op.inputs[:2])
            if _batch_shapes_differ(left, right):
                found.append(f"{name}: {op.type} {op.name} {left} x {right}")
        elif op.type == "Einsum" and "..." in op.get_attr("equation").decode():
            shapes = " x ".join(str(tensor.shape) for tensor in op.inputs)
            equation = op.get_attr("equation").decode()
            found.append(f"{name}: Einsum {op.name} '{equation}' {shapes}")
        for function_name in _called_functions(op):
            if function_name in seen:
                continue
            seen.add(function_name)
            # TensorFlow has no public lookup of a function by name; this
            # one also finds the functions of enclosing graphs.
            function = graph._get_function(function_name)
            assert function is not None and function.graph is not None, function_name
            found += broadcasting_matmuls(function.graph, function_name, seen)
    return found
