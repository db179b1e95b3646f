#!/usr/bin/env python3
"""Checks networks written by `ncp export` against the FLOPs and params they must have.

usage: scripts/check_export.py MANIFEST.csv

MANIFEST.csv has the header `code,head,classes,input,flops,params,torch,json,onnx`: one network per row, its code
(string form), convention, expected multiply-accumulates and parameters (integers), and the files to check (any
may be empty):

- torch: the file imports only torch and torch.nn; Net() has exactly `params` parameters; a forward pass on
  torch.randn(1, 3, input, input) returns (1, classes) for head cls and (1, classes, input/4, input/4) for seg;
  forward hooks counting convolution multiply-accumulates (+1 per output element with a bias) and 2 per batch-norm
  input element count exactly `flops`.
- json: exactly the keys code, input_channel, network_setting, last_channel, head, classes, input, flops_g,
  params_m; the constructor arguments give back the code; head, classes, input, flops_g and params_m as expected;
  with a torch file, the arguments describe that module (stem, modules, branches, blocks, channels, last channel).
- onnx: onnx.checker (full check) passes, opset 13 or later, shape inference gives the output shape above, the
  initializers other than batch-norm running statistics hold `params` values. With a torch file, its
  initializers load into Net() and the graph, evaluated node by node with torch operations, gives Net()'s output.

Prints one line per failure and a summary; exit 0 when every check passed, 1 otherwise.
"""
import argparse
import csv
import decimal
import importlib.util
import json
import sys
import time

JSON_KEYS = ['code', 'input_channel', 'network_setting', 'last_channel', 'head', 'classes', 'input', 'flops_g',
             'params_m']
STAGE_START = {1: 2, 2: 5, 3: 10, 4: 17}  # where each stage's module count is in a 27-int code


def code_ints(text):
    """The 27 integers of a code's string form (groups by '-', numbers by '_'; stages repeat their branch count)."""
    groups = [[int(v) for v in g.split('_')] for g in text.split('-')]
    code = groups[0][:]
    for stage in range(1, 5):
        g = groups[stage]
        code += [g[0]] + g[2:]
    return code + [groups[5][0]]


def setting_code(j):
    """The 27-int code the constructor arguments stand for: each stage is 1..4 equal modules of its branch count."""
    code = list(j['input_channel'])
    modules = j['network_setting']
    m = 0
    for stage in range(1, 5):
        first = m
        while m < len(modules) and modules[m][0] == stage:
            if modules[m] != modules[first]:
                raise ValueError(f'module {m} differs from module {first} of stage {stage}')
            m += 1
        if not 1 <= m - first <= 4:
            raise ValueError(f'stage {stage} has {m - first} modules')
        code += [m - first] + list(modules[first][1]) + list(modules[first][2])
    if m != len(modules):
        raise ValueError(f'module {m} follows the 4-branch stage')
    return code + [j['last_channel']]


def output_shape(row):
    n, side = int(row['classes']), int(row['input'])
    return (1, n) if row['head'] == 'cls' else (1, n, side // 4, side // 4)


def load_net_class(path, index):
    spec = importlib.util.spec_from_file_location(f'exported_{index}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def imported_modules(path):
    """The modules a file's import statements name (any line that starts, after indentation, with import or from;
    a docstring line doing so counts too, which errs on the side of failing)."""
    names = set()
    with open(path) as f:
        for line in f:
            words = line.split()
            if words[:1] == ['import']:
                names.update(part.split()[0] for part in line.split('import', 1)[1].split(',') if part.split())
            elif words[:1] == ['from'] and len(words) > 1:
                names.add(words[1])
    return names


def count_hooks(net, shape):
    """thop's convention through forward hooks; returns (multiply-accumulates, output)."""
    import torch
    import torch.nn as nn
    total = [0]

    def conv_hook(m, inputs, output):
        total[0] += output.numel() * (m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1] +
                                      (1 if m.bias is not None else 0))

    def bn_hook(m, inputs, output):
        total[0] += 2 * inputs[0].numel()

    handles = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.BatchNorm2d):
            handles.append(m.register_forward_hook(bn_hook))
    with torch.no_grad():
        y = net(torch.randn(shape))
    for h in handles:
        h.remove()
    return total[0], y


def check_torch(row, index, fail):
    import torch
    path = row['torch']
    extra = imported_modules(path) - {'torch', 'torch.nn'}
    if extra:
        fail(f'{path}: imports {sorted(extra)} besides torch and torch.nn')
    module = load_net_class(path, index)
    if module.CODE != row['code']:
        fail(f'{path}: CODE {module.CODE} != {row["code"]}')
    net = module.Net().eval()
    params = sum(p.numel() for p in net.parameters())
    if params != int(row['params']):
        fail(f'{path}: {params} parameters, expected {row["params"]}')
    side = int(row['input'])
    flops, y = count_hooks(net, (1, 3, side, side))
    if flops != int(row['flops']):
        fail(f'{path}: hooks count {flops} multiply-accumulates, expected {row["flops"]}')
    if tuple(y.shape) != output_shape(row):
        fail(f'{path}: output shape {tuple(y.shape)}, expected {output_shape(row)}')
    if not torch.isfinite(y).all():
        fail(f'{path}: non-finite output')
    return net


def check_json(row, net, fail):
    path = row['json']
    with open(path) as f:
        j = json.load(f, parse_float=decimal.Decimal)
    if list(j) != JSON_KEYS:
        fail(f'{path}: keys {list(j)}, expected {JSON_KEYS}')
        return
    if j['code'] != row['code']:
        fail(f'{path}: code {j["code"]} != {row["code"]}')
    try:
        back = setting_code(j)
        if back != code_ints(row['code']):
            fail(f'{path}: the constructor arguments give code {back}, not {row["code"]}')
    except (ValueError, IndexError, KeyError, TypeError) as e:
        fail(f'{path}: the constructor arguments are no code: {e}')
    for key, want in (('head', row['head']), ('classes', int(row['classes'])), ('input', int(row['input']))):
        if j[key] != want:
            fail(f'{path}: {key} {j[key]!r}, expected {want!r}')
    if j['flops_g'] * decimal.Decimal(10) ** 9 != int(row['flops']):
        fail(f'{path}: flops_g {j["flops_g"]}, expected {row["flops"]} x 1e-9')
    if j['params_m'] * decimal.Decimal(10) ** 6 != int(row['params']):
        fail(f'{path}: params_m {j["params_m"]}, expected {row["params"]} x 1e-6')
    if net is not None:
        described = {
            'input_channel': [net.stem[0].conv.out_channels, net.stem[1].conv.out_channels],
            'network_setting': [[len(m.branches), [len(b) for b in m.branches],
                                 [b[0].first.conv.out_channels for b in m.branches]] for m in net.features],
            'last_channel': net.head.transform.conv.out_channels,
        }
        for key, value in described.items():
            if j[key] != value:
                fail(f'{path}: {key} {j[key]} does not describe {row["torch"]} ({value})')


def run_onnx(model, x):
    """Evaluates the graph node by node with torch operations (the operators and attributes ncp writes)."""
    import onnx
    import torch
    import torch.nn.functional as F
    from onnx import numpy_helper

    def tensor(t):
        return torch.from_numpy(numpy_helper.to_array(t).copy())

    env = {t.name: tensor(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for n in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
        ins = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == 'Conv':
            pads = a['pads']
            assert pads[:2] == pads[2:], pads
            y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, stride=a['strides'], padding=pads[:2])
        elif op == 'BatchNormalization':
            y = F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], False, 0.0, a['epsilon'])
        elif op == 'Relu':
            y = torch.relu(ins[0])
        elif op == 'Add':
            y = ins[0] + ins[1]
        elif op == 'Constant':
            y = tensor(a['value'])
        elif op == 'Resize':
            size = [int(d * s) for d, s in zip(ins[0].shape[2:], ins[2].tolist()[2:])]
            if a['mode'] == b'nearest':
                assert a['coordinate_transformation_mode'] == b'asymmetric' and a['nearest_mode'] == b'floor', a
                y = F.interpolate(ins[0], size=size, mode='nearest')
            else:
                assert a['mode'] == b'linear' and a['coordinate_transformation_mode'] == b'half_pixel', a
                y = F.interpolate(ins[0], size=size, mode='bilinear', align_corners=False)
        elif op == 'Concat':
            y = torch.cat(ins, a['axis'])
        elif op == 'GlobalAveragePool':
            y = ins[0].mean((2, 3), keepdim=True)
        elif op == 'Flatten':
            y = ins[0].flatten(a['axis'])
        elif op == 'Identity':
            y = ins[0]
        else:
            raise ValueError(f'unexpected operator {op}')
        env[n.output[0]] = y
    return env[model.graph.output[0].name]


def check_onnx(row, net, fail):
    import onnx
    path = row['onnx']
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = max(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx'))
    if opset < 13:
        fail(f'{path}: opset {opset} < 13')
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    for v in bare.graph.output:
        v.type.tensor_type.ClearField('shape')
    inferred = onnx.shape_inference.infer_shapes(bare, strict_mode=True)
    dims = tuple(d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim)
    if dims != output_shape(row):
        fail(f'{path}: shape inference gives {dims}, expected {output_shape(row)}')
    weights = 0
    for t in model.graph.initializer:
        if not t.name.endswith(('.running_mean', '.running_var')):
            n = 1
            for d in t.dims:
                n *= d
            weights += n
    if weights != int(row['params']):
        fail(f'{path}: initializers hold {weights} weights, expected {row["params"]}')
    if net is None:
        return
    import torch
    from onnx import numpy_helper
    state = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        fail(f'{path}: initializers do not match {row["torch"]}: missing {missing[:3]}, unexpected {unexpected[:3]}')
        return
    side = int(row['input'])
    x = torch.randn(1, 3, side, side)
    with torch.no_grad():
        want = net.eval()(x)
        got = run_onnx(model, x)
    scale = want.abs().max().item()
    diff = (got - want).abs().max().item()
    if tuple(got.shape) != tuple(want.shape) or not diff <= 1e-4 * max(1.0, scale):
        fail(f'{path}: the graph computes another function than {row["torch"]} (max difference {diff:g}, '
             f'output scale {scale:g})')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('manifest')
    args = ap.parse_args()
    t0 = time.perf_counter()
    failures = []
    counts = {'torch': 0, 'json': 0, 'onnx': 0}
    compared = 0
    with open(args.manifest, newline='') as f:
        rows = list(csv.DictReader(f))
    for index, row in enumerate(rows):
        def fail(message):
            failures.append(message)
            print(f'check_export: {row["code"]} ({row["head"]}): {message}', flush=True)
        try:
            net = None
            if row['torch']:
                net = check_torch(row, index, fail)
                counts['torch'] += 1
            if row['json']:
                check_json(row, net, fail)
                counts['json'] += 1
            if row['onnx']:
                check_onnx(row, net, fail)
                compared += net is not None
                counts['onnx'] += 1
        except Exception as e:  # a file that does not load is one failure of its row, and the others go on
            fail(f'{type(e).__name__}: {e}')
    seconds = time.perf_counter() - t0
    print(f'check_export: {len(rows)} networks (torch {counts["torch"]}, json {counts["json"]}, onnx '
          f'{counts["onnx"]}, {compared} ONNX graphs evaluated against their torch module): '
          f'{"all exact" if not failures else f"{len(failures)} failures"} in {seconds:.1f} s')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
