"""The lab's claims, their formulas: both distillation losses against hand computation (with the
temperature scaling of the KL form and transfer-set rows without labels), the transfer set, the
seed spread, and the batched attack success rate against the attack() verb image by image."""

import math

import pytest
import torch

from app.attacks import attack
from app.shapes.base import SIZE
from app.shapes.dataset import ShapesDataset
from app.shapes.robustness import attack_success
from app.shapes.seeds import spread
from app.shapes.training import SoftLoss, distillation_loss
from app.shapes.transfer_set import TRANSFER_OFFSET, augment, transfer_pixels
from tests.models import TinyNet, loaded

# Two classes: the student is undecided, the teacher says 3 : 1 (softmax of [ln 3, 0]).
STUDENT = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
TEACHER = torch.tensor([[math.log(3), 0.0]], dtype=torch.float64)
LABEL = torch.tensor([0])
CE = math.log(2)  # −log ½


def _loss(
    alpha: float, temperature: float, soft_loss: SoftLoss = "kl", labels: torch.Tensor = LABEL
) -> float:
    return float(
        distillation_loss(STUDENT, TEACHER, labels, alpha, temperature, soft_loss=soft_loss)
    )


def test_the_kl_form_by_hand_at_temperature_one() -> None:
    # p_T = (3/4, 1/4), p_S = (1/2, 1/2): KL = 3/4·ln(3/2) + 1/4·ln(1/2)
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert _loss(0.25, 1.0) == pytest.approx(0.25 * CE + 0.75 * kl, rel=1e-12)


def test_the_kl_form_softens_the_teacher_and_scales_by_t_squared() -> None:
    # At T = 2 the teacher's logits are halved: p_T = (√3, 1) / (√3 + 1); p_S stays (1/2, 1/2).
    root = math.sqrt(3)
    p = (root / (root + 1), 1 / (root + 1))
    kl = sum(share * math.log(share / 0.5) for share in p)
    assert _loss(0.25, 2.0) == pytest.approx(0.25 * CE + 0.75 * 4 * kl, rel=1e-12)
    assert _loss(0.0, 2.0) == pytest.approx(4 * kl, rel=1e-12)  # the soft term alone, × T²
    assert _loss(1.0, 2.0) == pytest.approx(CE, rel=1e-12)  # the label term alone


def test_the_logit_matching_form_by_hand() -> None:
    # ‖z_T − z_S‖² = (ln 3)² + 0², whatever the temperature.
    for temperature in (1.0, 5.0):
        expected = 0.25 * CE + 0.75 * math.log(3) ** 2
        assert _loss(0.25, temperature, "logits") == pytest.approx(expected, rel=1e-12)
    student = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0]], dtype=torch.float64)
    teacher = torch.tensor([[3.0, 0.0, 1.0], [0.0, 2.0, 1.0]], dtype=torch.float64)
    labels = torch.tensor([0, 1])
    # Rows: (2, 0, 2) -> 8 and (0, 0, 1) -> 1; the batch mean is 4.5.
    got = distillation_loss(student, teacher, labels, 0.0, 1.0, soft_loss="logits")
    assert float(got) == pytest.approx(4.5, rel=1e-12)


def test_at_high_temperature_the_kl_form_tends_to_logit_matching() -> None:
    # Hinton et al. 2015, §2.1: for zero-mean logits, T²·KL -> ‖z_T − z_S‖² / (2N), N classes.
    student = torch.tensor([[0.5, -0.2, -0.3]], dtype=torch.float64)
    teacher = torch.tensor([[1.0, -1.5, 0.5]], dtype=torch.float64)
    labels = torch.tensor([0])
    kl = distillation_loss(student, teacher, labels, 0.0, 1000.0)
    squared = distillation_loss(student, teacher, labels, 0.0, 1.0, soft_loss="logits")
    assert float(kl) == pytest.approx(float(squared) / (2 * 3), rel=1e-3)


def test_rows_without_a_label_count_only_in_the_teachers_term() -> None:
    student = torch.cat([STUDENT, torch.tensor([[2.0, 0.0]], dtype=torch.float64)])
    teacher = torch.cat([TEACHER, torch.tensor([[0.0, 0.0]], dtype=torch.float64)])
    labels = torch.tensor([0, -1])  # the second row is a transfer-set image
    got = distillation_loss(student, teacher, labels, 0.5, 1.0, soft_loss="logits")
    # CE of the labelled row alone; squared distances (ln 3)² and 2², averaged over both rows.
    assert float(got) == pytest.approx(0.5 * CE + 0.5 * (math.log(3) ** 2 + 4) / 2, rel=1e-12)
    none = distillation_loss(student, teacher, torch.tensor([-1, -1]), 0.5, 1.0, soft_loss="logits")
    assert float(none) == pytest.approx(0.5 * (math.log(3) ** 2 + 4) / 2, rel=1e-12)


def test_the_transfer_set_is_unlabelled_generated_images_then_augmented_copies() -> None:
    labelled = ShapesDataset(6, SIZE, seed=3).tensors()[0]
    pixels = transfer_pixels(labelled, unlabelled=4, augmented_copies=2, size=SIZE, seed=3)
    assert pixels.shape == (4 + 2 * 6, 3, SIZE, SIZE)
    generated = ShapesDataset(4, SIZE, 3, "random", TRANSFER_OFFSET).tensors()[0]
    assert torch.equal(pixels[:4], generated)
    assert not torch.equal(pixels[:4], ShapesDataset(4, SIZE, seed=3).tensors()[0])
    copies = pixels[4:]
    assert float(copies.min()) >= 0 and float(copies.max()) <= 1
    assert not torch.equal(copies[:6], labelled) and not torch.equal(copies[:6], copies[6:])
    again = augment(labelled, torch.Generator().manual_seed(3))
    assert torch.equal(again, copies[:6])  # seeded
    # An augmented copy stays close to its image: flips, a few pixels' shift, mild jitter.
    assert float((copies[:6] - labelled).abs().mean()) < 0.25


def test_the_spread_by_hand() -> None:
    result = spread([0.5, 0.6, 0.7])
    assert result.mean == pytest.approx(0.6)
    assert result.sd == pytest.approx(0.1)  # sqrt((0.01 + 0 + 0.01) / 2)
    assert spread([0.4]).sd == 0.0


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_batched_attack_success_equals_the_attack_verb_image_by_image(method: str) -> None:
    torch.manual_seed(0)
    model = loaded(TinyNet())
    pixels = torch.rand(8, 3, 32, 32)
    epsilon = 8 / 255
    params = {"epsilon": epsilon, **({"steps": 3} if method == "pgd" else {})}
    one_by_one = [attack(model, image, method, params=params).success for image in pixels]
    rate = attack_success(model, pixels, method, epsilon, steps=3)
    assert rate == pytest.approx(sum(one_by_one) / len(one_by_one))
    assert attack_success(model, pixels, method, 0.5, steps=3) > 0  # a huge ε flips some


def test_lantern_shapes_noise_robustness_prints_its_curves(tmp_path, monkeypatch, capsys) -> None:
    from app.cli import main

    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path))
    settings = ["epochs=1", "train_images=10", "test_images=10", "width=4", "seeds=1"]
    settings += ["epsilons=4,16", "pgd_steps=1"]
    arguments = [item for pair in settings for item in ("--param", pair)]
    assert main(["shapes", "noise_robustness", *arguments]) == 0
    out = capsys.readouterr().out
    assert "4/255" in out and "16/255" in out
    attacks = [line.split()[4] for line in out.splitlines() if "σ = 0.1 " in line]
    assert attacks == ["fgsm", "pgd"]
    assert sum(line.lstrip().startswith("no noise") for line in out.splitlines()) == 2
    assert (tmp_path / "shapes" / "noise_robustness.json").is_file()
