"""A checkpoint's whole recipe as one readable Python file in the classic notebook's style: torchvision's dataset with
ToTensor and Normalize, a DataLoader, an nn.Module and an explicit epoch loop. Only torch and torchvision needed.

The file is built from the blocks below, with only what the recipe uses (no schedule function for a constant learning
rate, no shifts without augmentation), so a learner reads exactly what ran. The parts that decide the numbers follow
fmnist/training/loop.py: the seed right before the model (same initial weights), DataLoader(shuffle=True) on the global
random
stream (the seed preset's batches are then fmnist's own), lr_at's schedules, make_optimizer's parameter groups,
shift_batch, split_validation and keep_best.
"""

from __future__ import annotations

import json
import shlex
import textwrap
from string import Template

from fmnist import __version__
from fmnist.config import PRESETS, TrainConfig, layers_text, text
from fmnist.data.dataset import CLASSES, FILES, MEAN, STD
from fmnist.export.network import model_name, model_source

WRAP = 100  # header lines; the generated file is checked with ruff at the repo's 120 columns

_HEADER = Template('''\
# Exported by fmnist $version from the checkpoint "$name" ($result).
$made
# Its weights, as a plain state_dict: $weights (`python $script --weights $weights` tests them).
"""Fashion-MNIST with a $layers $kind: the recipe of the fmnist checkpoint "$name".

$recipe

Needs only torch and torchvision. Examples:
$examples

DIR is torchvision's folder (it downloads Fashion-MNIST into DIR/FashionMNIST/raw when missing) or a plain
folder of the four IDX files, compressed (.gz) or not, such as Debian's /usr/share/datasets/fashion-mnist.
"""
''')

_IMPORTS = '''
import argparse
import copy
import gzip
${math_import}\
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset$subset
from torchvision import transforms
from torchvision.datasets import FashionMNIST
'''

_CONSTANTS = '''
RANDOM_SEED = $seed
BATCH_SIZE = $batch_size
NUM_EPOCHS = $epochs
LEARNING_RATE = $lr$schedule_note
${extra_constants}\
CLASSES = $classes
IDX_FILES = {  # (images, labels) of the training and the test set
    True: ("$train_images", "$train_labels"),
    False: ("$test_images", "$test_labels"),
}

custom_transform = transforms.Compose([
    transforms.ToTensor(),  # 0-255 -> 0.0-1.0
    transforms.Normalize(mean=($mean,), std=($std,)),  # -> -1.0-1.0
])
'''

_DATA = '''

def find_file(folder, stem):
    for path in (folder / stem, folder / (stem + ".gz")):
        if path.is_file():
            return path
    return None


def read_idx(path):
    """One IDX file as a numpy array: a 4-byte magic number (its last byte the number of dimensions), the
    dimensions as 4-byte big-endian integers, then the pixels or labels, one byte each."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


class IdxFashionMNIST(Dataset):
    """Fashion-MNIST read from a plain folder of its four IDX files, item by item as torchvision's FashionMNIST."""

    def __init__(self, folder, train, transform):
        images, labels = IDX_FILES[train]
        self.images = read_idx(find_file(folder, images))
        self.targets = torch.from_numpy(read_idx(find_file(folder, labels)).astype(np.int64))
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.transform(self.images[index]), int(self.targets[index])


def load_datasets(folder):
    """A plain folder of the four files is read directly (torchvision would refuse recompressed .gz files); any
    other folder is torchvision's, which downloads the data into FOLDER/FashionMNIST/raw if it is not there."""
    folder = Path(folder).expanduser()
    if all(find_file(folder, stem) for stems in IDX_FILES.values() for stem in stems):
        return (IdxFashionMNIST(folder, True, custom_transform),
                IdxFashionMNIST(folder, False, custom_transform))
    return (FashionMNIST(folder, train=True, download=True, transform=custom_transform),
            FashionMNIST(folder, train=False, download=True, transform=custom_transform))
'''

_SCHEDULES = {
    "cosine": '''

def learning_rate(step, total_steps):
    """Cosine decay from LEARNING_RATE at the first step to 0 at the last."""
    if total_steps <= 1:
        return LEARNING_RATE
    t = step / (total_steps - 1)
    return LEARNING_RATE * 0.5 * (1 + math.cos(math.pi * t))
''',
    "onecycle": '''

def learning_rate(step, total_steps):
    """One cycle, as torch's OneCycleLR: from LEARNING_RATE / 25 up to LEARNING_RATE over the first 30% of the
    steps, then down to LEARNING_RATE / 25 / 10,000, both ways along a cosine."""
    if total_steps <= 1:
        return LEARNING_RATE
    t = step / (total_steps - 1)
    start, end, warm = LEARNING_RATE / 25, LEARNING_RATE / 25 / 1e4, 0.3
    if t < warm:
        return start + (LEARNING_RATE - start) * 0.5 * (1 - math.cos(math.pi * t / warm))
    return end + (LEARNING_RATE - end) * 0.5 * (1 + math.cos(math.pi * (t - warm) / (1 - warm)))
''',
}

_SHIFT = '''

def shift_images(images, max_shift=2):
    """Moves each image by up to max_shift pixels across and down (a random amount for each image), filling the
    edge with black (-1 after Normalize); done for the whole batch at once by indexing a padded copy."""
    b = images.shape[0]
    padded = F.pad(images.view(b, 28, 28), (max_shift,) * 4, value=-1.0)
    d = torch.randint(0, 2 * max_shift + 1, (2, b, 1), device=images.device)
    ar = torch.arange(28, device=images.device)
    rows = (ar + d[0])[:, :, None]
    cols = (ar + d[1])[:, None, :]
    return padded[torch.arange(b, device=images.device)[:, None, None], rows, cols].view(b, 1, 28, 28)
'''

_OPTIMIZER_GROUPS = '''

def make_optimizer(model):
    # Weight decay on the weights only: on biases and batch-norm scales it would only fight the normalisation.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}]
    return $optimizer(groups, lr=LEARNING_RATE$optimizer_args)
'''

_OPTIMIZER_PLAIN = '''

def make_optimizer(model):
    return $optimizer(model.parameters(), lr=LEARNING_RATE$optimizer_args)
'''

_OPTIMIZERS = {"sgd": ("torch.optim.SGD", ""), "momentum": ("torch.optim.SGD", ", momentum=0.9, nesterov=True"),
               "adam": ("torch.optim.Adam", ""), "adamw": ("torch.optim.AdamW", "")}

_TRAINING = '''

@torch.no_grad()
def compute_accuracy_and_loss(model, data_loader, device):
    """Accuracy (percent) and mean cross-entropy over a whole dataset, in eval mode."""
    model.eval()
    correct, loss_sum, num_examples = 0, 0.0, 0
    for features, targets in data_loader:
        features, targets = features.to(device), targets.to(device)
        logits = model(features)
        loss_sum += F.cross_entropy(logits, targets, reduction="sum").item()
        correct += (logits.argmax(1) == targets).sum().item()
        num_examples += targets.size(0)
    return 100 * correct / num_examples, loss_sum / num_examples


def train_one_epoch(model, optimizer, train_loader, device, step, total_steps):
    """One pass over the training batches. Returns the mean loss and the accuracy on the batches as they were
    trained, and the step count."""
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for features, targets in train_loader:
        features, targets = features.to(device), targets.to(device)
${shift_line}${lr_lines}\
        logits = model(features)
        cost = F.cross_entropy(logits, targets$smoothing_arg)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        step += 1
        loss_sum += cost.item() * targets.size(0)
        correct += (logits.argmax(1) == targets).sum().item()
        seen += targets.size(0)
    return loss_sum / seen, 100 * correct / seen, step


def train(num_epochs, train_dataset, test_loader, device):
${split_lines}\
    torch.manual_seed(RANDOM_SEED)  # right before the model: the seed draws its initial weights, then the batches
    model = $model_class().to(device)
    optimizer = make_optimizer(model)
${drop_last_lines}\
    train_loader = DataLoader(train_dataset, batch_size=BATCH_SIZE, shuffle=True$drop_last)
    total_steps = len(train_loader) * num_epochs
    step = 0
${best_init}\
    start_time = time.time()
    for epoch in range(num_epochs):
        train_loss, train_acc, step = train_one_epoch(model, optimizer, train_loader, device, step, total_steps)
${train_eval_lines}\
        test_acc, test_loss = compute_accuracy_and_loss(model, test_loader, device)
${val_lines}\
        elapsed = (time.time() - start_time) / 60
        print(f"Epoch: {epoch + 1:03d}/{num_epochs:03d} | Train Loss: {train_loss:.4f} | Train Acc.: {train_acc:.2f}%"
              f"$val_print | Test Loss: {test_loss:.4f} | Test Acc.: {test_acc:.2f}% | "
              f"Time elapsed: {elapsed:.2f} min", flush=True)
${keep_best_lines}\
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=NUM_EPOCHS, help=f"epochs to train (default {NUM_EPOCHS})")
    parser.add_argument("--data", default=".", help="the data folder (default: the current one)")
    parser.add_argument("--weights", help="test these weights (a state_dict .pt file) instead of training")
    parser.add_argument("--save", help="after training, save the weights to this .pt file (for --weights)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    device = torch.device(args.device)
    train_dataset, test_dataset = load_datasets(args.data)
    test_loader = DataLoader(test_dataset, batch_size=1000)

    if args.weights:
        model = $model_class()
        # weights_only=True reads plain tensors and nothing else, so loading a file can never run code.
        model.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True))
        model = model.to(device)
    else:
        model = train(args.epochs, train_dataset, test_loader, device)
        if args.save:
            torch.save(model.state_dict(), args.save)
            print(f"Saved the weights to {args.save}")
    test_acc, test_loss = compute_accuracy_and_loss(model, test_loader, device)
    print(f"Test accuracy: {test_acc:.2f}% | Test loss: {test_loss:.4f}")


if __name__ == "__main__":
    main()
'''

# The notebook's "Train Acc.": after each epoch, eval mode over its shuffled training loader. That pass (before the
# test pass) also draws from the global RNG, which sets the next epoch's shuffle, so it is kept where it stands.
_TRAIN_EVAL = '''\
        train_acc, train_loss = compute_accuracy_and_loss(model, train_loader, device)
'''

_SPLIT = '''\
    # A fixed hold-out, drawn from a generator of its own (its seed + 1), so the same images every run.
    order = torch.randperm(len(train_dataset), generator=torch.Generator().manual_seed(VALIDATION_SEED + 1)).tolist()
    val_loader = DataLoader(Subset(train_dataset, order[:VALIDATION_SIZE]), batch_size=1000)
    train_dataset = Subset(train_dataset, order[VALIDATION_SIZE:])

'''

_VAL = '''\
        val_acc, _ = compute_accuracy_and_loss(model, val_loader, device)
'''

_BEST_INIT = '''\
    best_acc, best_epoch, best_state = -1.0, 0, None
'''

_BEST_UPDATE = '''\
        if val_acc > best_acc:
            best_acc, best_epoch, best_state = val_acc, epoch + 1, copy.deepcopy(model.state_dict())
'''

_KEEP_BEST = '''\
    # The epoch kept is chosen on the validation images, never on the test set.
    model.load_state_dict(best_state)
    print(f"Kept epoch {best_epoch}, the best on validation ({best_acc:.2f}%)")
'''


def render_script(meta: dict, config: TrainConfig, name: str, script: str, weights: str) -> str:
    """The Python file for a checkpoint (its metadata and config); `script` and `weights` are the file names the
    examples in its docstring use."""
    body = (_header(meta, config, name, script, weights) + _imports(config) + _constants(config) + _DATA
            + model_source(config) + _SCHEDULES.get(config.schedule, "") + (_SHIFT if config.augment else "")
            + _optimizer(config) + _training(config))
    # The blocks leave no uses of copy (without keep_best) and Subset (without a split): drop what is unused.
    if not config.keep_best:
        body = body.replace("import copy\n", "")
    return body


def train_command(meta: dict, config: TrainConfig) -> str:
    """The fmnist command that made the checkpoint; for one made in the app, the command line of the same run."""
    command = meta.get("command")
    if isinstance(command, str) and command.startswith("python -m fmnist "):
        return command
    # The shortest command: the preset with the fewest flags to add (the seed preset only in fp32, as the CLI says).
    bases = [(name, base) for name, base in PRESETS.items() if name != "seed" or config.precision == "fp32"]
    name, base = min(bases, key=lambda nb: (len(text.flags(config, nb[1])), nb[0] != "seed"))
    flags = ([] if name == "seed" else ["--preset", name]) + text.flags(config, base)
    return "python -m fmnist train" + (" " + shlex.join(flags) if flags else "")


def _comment(text: str) -> str:
    """A shell command as '#' comment lines, continued with backslashes where it is long."""
    lines = textwrap.wrap(text, WRAP - 6, break_long_words=False, break_on_hyphens=False)
    return "\n".join(f"#   {line}" + (" \\" if i < len(lines) - 1 else "") for i, line in enumerate(lines))


def _header(meta: dict, config: TrainConfig, name: str, script: str, weights: str) -> str:
    history = meta.get("history") or []
    acc = (meta.get("metrics") or {}).get("test_acc")
    result = (f"test accuracy {acc:.2f}%" if isinstance(acc, (int, float)) else "no test accuracy") + \
        f" after {len(history)} of {config.epochs} epochs"
    made = meta.get("command")
    command = train_command(meta, config)
    if command == made:
        made_text = "# It was made with:\n" + _comment(command)
    else:
        made_text = f"# It was made by {made or 'fmnist'}; the same run from the command line:\n" + _comment(command)
    recipe = textwrap.fill("Recipe: " + _recipe(config), WRAP)
    examples = [(f"python {script}", f"train it again: {config.epochs} epochs, as fmnist did"),
                (f"python {script} --epochs 2 --data DIR", "2 epochs, the data in DIR"),
                (f"python {script} --weights {weights}", "the test accuracy of the checkpoint's own weights")]
    width = max(len(cmd) for cmd, _ in examples) + 2
    examples_text = "\n".join(f"    {cmd.ljust(width)}# {what}" for cmd, what in examples)
    return _HEADER.substitute(version=__version__, name=name, result=result, made=made_text, weights=weights,
                              kind="convolutional network" if config.conv else "multilayer perceptron",
                              script=script, layers=layers_text(config), recipe=recipe, examples=examples_text)


def _recipe(config: TrainConfig) -> str:
    parts = [f"{config.activation} activations"]
    if config.batch_norm:
        parts.append("batch norm")
    if config.dropout:
        parts.append(f"dropout {config.dropout:g}")
    parts.append(f"{config.optimizer} with learning rate {config.lr:g} ({config.schedule} schedule)")
    if config.weight_decay:
        parts.append(f"weight decay {config.weight_decay:g}")
    parts.append(f"batches of {config.batch_size}, {config.epochs} epochs, seed {config.seed}")
    if config.label_smoothing:
        parts.append(f"label smoothing {config.label_smoothing:g}")
    if config.augment:
        parts.append("random shifts of up to 2 pixels")
    if config.val_size:
        parts.append(f"{config.val_size:,} training images held out for validation"
                     + (", the best epoch on them kept" if config.keep_best else ""))
    left_out = left_out_of_script(config)
    return ", ".join(parts) + "." + (f" Not in this file, though fmnist trained with them: {', '.join(left_out)}; "
                                     "a run of this file is the recipe without them." if left_out else "")


def left_out_of_script(config: TrainConfig) -> list[str]:
    """The parts of a recipe this notebook-style file does not write out (fmnist/training/loop.py has them)."""
    return [what for what, on in (("left-right mirrors", config.flip),
                                  ("random warps (sub-pixel shifts and zooms)", config.warp),
                                  ("a moving average of the weights", config.ema),
                                  ("bf16 autocast", config.precision == "bf16")) if on]


def _imports(config: TrainConfig) -> str:
    return Template(_IMPORTS).substitute(math_import="import math\n" if config.schedule != "constant" else "",
                                         subset=", Subset" if config.val_size else "")


def _constants(config: TrainConfig) -> str:
    extra = []
    if config.weight_decay:
        extra.append(f"WEIGHT_DECAY = {config.weight_decay!r}  # on weights only, not on biases or batch-norm scales")
    if config.label_smoothing:
        extra.append(f"LABEL_SMOOTHING = {config.label_smoothing!r}")
    if config.val_size:
        extra.append(f"VALIDATION_SIZE = {config.val_size}  # training images held out"
                     + (" to choose the epoch kept" if config.keep_best else ""))
        extra.append(f"VALIDATION_SEED = {config.seed if config.val_seed is None else config.val_seed}"
                     + ("  # the class challenge's split, the same for every student" if config.val_seed is not None
                        else "  # the run's seed: its split"))
    note = {"constant": "", "cosine": "  # at the first step; cosine decay to 0 over the run",
            "onecycle": "  # the peak of a one-cycle schedule"}[config.schedule]
    (ti, _, _), (tl, _, _), (si, _, _), (sl, _, _) = FILES.values()
    return Template(_CONSTANTS).substitute(
        seed=config.seed, batch_size=config.batch_size, epochs=config.epochs, lr=repr(config.lr), schedule_note=note,
        extra_constants="".join(line + "\n" for line in extra), classes=f"({', '.join(map(json.dumps, CLASSES))})",
        train_images=ti, train_labels=tl, test_images=si, test_labels=sl, mean=MEAN, std=STD)


def _optimizer(config: TrainConfig) -> str:
    optimizer, args = _OPTIMIZERS[config.optimizer]
    if config.weight_decay:
        return Template(_OPTIMIZER_GROUPS).substitute(optimizer=optimizer, optimizer_args=args)
    if config.optimizer == "adamw":
        args += ", weight_decay=0.0"  # AdamW's own default is 0.01
    return Template(_OPTIMIZER_PLAIN).substitute(optimizer=optimizer, optimizer_args=args)


def _training(config: TrainConfig) -> str:
    indent = " " * 8
    lr_lines = "" if config.schedule == "constant" else (
        f"{indent}for group in optimizer.param_groups:\n{indent}    group[\"lr\"] = learning_rate(step, total_steps)\n")
    drop_last = drop_last_lines = ""
    if config.drop_last:  # the notebook's loader: the last, partial batch is not trained on
        drop_last = ", drop_last=True"
    elif config.batch_norm:
        drop_last = ", drop_last=drop_last"
        drop_last_lines = ("    drop_last = len(train_dataset) % BATCH_SIZE == 1  # batch norm cannot train on a batch "
                           "of one image\n")
    val = bool(config.val_size)
    return Template(_TRAINING).substitute(
        model_class=model_name(config),
        shift_line=f"{indent}features = shift_images(features)\n" if config.augment else "",
        lr_lines=lr_lines,
        smoothing_arg=", label_smoothing=LABEL_SMOOTHING" if config.label_smoothing else "",
        split_lines=_SPLIT if val else "",
        drop_last=drop_last,
        drop_last_lines=drop_last_lines,
        train_eval_lines=_TRAIN_EVAL if config.eval_train else "",
        best_init=_BEST_INIT if config.keep_best else "",
        val_lines=(_VAL + (_BEST_UPDATE if config.keep_best else "")) if val else "",
        val_print=" | Val Acc.: {val_acc:.2f}%" if val else "",
        keep_best_lines=_KEEP_BEST if config.keep_best else "",
    )
