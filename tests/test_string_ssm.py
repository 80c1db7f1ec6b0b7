"""The paper's state-space models (examples/string/ssm.py) held to float64 references, and the GRU
baseline that learns."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from conftest import plucks, started, string_config

from examples.string import models, ssm, train


def layer_coefficients(layer, features, seed=0):
    """(module's parameters, (λ, B̄, C, D) in float64) of an SSM layer of `features` features."""
    params = layer.init(jax.random.key(seed), features, method="coefficients")["params"]
    coefficients = layer.apply({"params": params}, features, method="coefficients")
    return params, [np.asarray(c).astype(np.complex128) for c in coefficients]


def step_by_step(x, lam, b, c, d):
    """h_t = λ h_{t−1} + B̄ x_t, y_t = Re(C h_t) + D x_t over x (B, T, H), a float64 loop."""
    h, y = np.zeros((x.shape[0], lam.size), complex), np.empty_like(x)
    for t in range(x.shape[1]):
        h = lam * h + x[:, t] @ b.T
        y[:, t] = (h @ c.T).real + d.real * x[:, t]
    return y


@pytest.mark.parametrize("layer", [ssm.LRULayer(8), ssm.S5Layer(8, blocks=2)], ids=["lru", "s5"])
def test_a_sequence_layer_is_its_recurrence_step_by_step(layer):
    """The parallel scan equals h_t = λ h_{t−1} + B̄ x_t, y_t = Re(C h_t) + D x_t, run in a float64 loop."""
    x = np.random.default_rng(0).standard_normal((2, 50, 5))
    params, (lam, b, c, d) = layer_coefficients(layer, 5)
    reference = step_by_step(x, lam, b, c, d)
    out = np.asarray(layer.apply({"params": params}, jnp.asarray(x, jnp.float32)))
    np.testing.assert_allclose(out, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())


@pytest.mark.parametrize("layer", ["lru", "s5"])
def test_under_x64_the_model_is_float64_to_the_last_digits(x64, layer):
    """With param_dtype float64 every parameter is float64, and a layer meets the float64 loop to 1e-10."""
    model = ssm.SSMString(layer, 1, 8, 5, glu=layer == "lru", blocks=2, param_dtype=jnp.float64)
    first = jnp.asarray(np.random.default_rng(3).standard_normal((2, 5, 1)))
    variables = model.init(jax.random.key(0), first, 30)
    assert {leaf.dtype for leaf in jax.tree.leaves(variables)} == {jnp.dtype(jnp.float64)}
    assert model.apply(variables, first, 30).dtype == jnp.float64
    one = (
        ssm.LRULayer(8, param_dtype=jnp.float64)
        if layer == "lru"
        else ssm.S5Layer(8, 2, param_dtype=jnp.float64)
    )
    x = np.random.default_rng(0).standard_normal((2, 50, 5))
    params, (lam, b, c, d) = layer_coefficients(one, 5)
    reference = step_by_step(x, lam, b, c, d)
    np.testing.assert_allclose(
        one.apply({"params": params}, jnp.asarray(x)), reference, rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("layer", [ssm.LRULayer(8), ssm.S5Layer(8, blocks=2)], ids=["lru", "s5"])
def test_the_first_layer_is_a_modal_rollout(layer):
    """One-to-many: y_t = Re(C λ^t B̄ x0), the powers in float64."""
    x0 = np.random.default_rng(1).standard_normal((3, 5))
    params, (lam, b, c, _) = layer_coefficients(layer, 5)
    powers = lam ** np.arange(200)[:, None]  # (T, P)
    reference = np.einsum("hp,tp,bp->bth", c, powers, x0 @ b.T).real
    out = np.asarray(layer.apply({"params": params}, jnp.asarray(x0, jnp.float32), 200, method="rollout"))
    np.testing.assert_allclose(out, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())


def test_s5_discretisation_is_the_matrix_exponential():
    """Zero-order hold: [[Λ, B̃], [0, 0]] Δ exponentiated holds λ = exp(ΛΔ) and B̄ = Λ⁻¹(λ − 1) B̃."""
    rng = np.random.default_rng(2)
    lam = -rng.uniform(0.1, 1.0, 4) + 1j * rng.uniform(-20, 20, 4)
    b = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    step = np.exp(rng.uniform(np.log(1e-3), np.log(0.1), 4))
    lam_bar, b_bar = (np.asarray(a) for a in ssm.zoh(jnp.asarray(lam), jnp.asarray(b), jnp.asarray(step)))
    for p in range(4):  # each state has its own step
        augmented = np.zeros((4, 4), complex)
        augmented[0, 0], augmented[0, 1:] = lam[p], b[p]
        exact = scipy.linalg.expm(augmented * step[p])
        np.testing.assert_allclose(lam_bar[p], exact[0, 0], rtol=1e-5)
        np.testing.assert_allclose(b_bar[p], exact[0, 1:], rtol=1e-4, atol=1e-6)


def test_s5_starts_from_hippo_n():
    """HiPPO-N is normal with Re Λ = −½, and its eigenvalues are those of S = A + p pᵀ for HiPPO-LegS A."""
    lam, vectors = ssm.hippo_normal(8)
    n = np.arange(8)
    legs = -np.where(n[:, None] > n[None, :], np.sqrt((2 * n[:, None] + 1) * (2 * n[None, :] + 1)), 0.0)
    legs -= np.diag(n + 1)  # HiPPO-LegS: −√((2n+1)(2k+1)) below the diagonal, −(n+1) on it
    normal = legs + np.sqrt(n + 0.5)[:, None] * np.sqrt(n + 0.5)[None, :]
    np.testing.assert_allclose(lam.real, -0.5, atol=1e-12)
    np.testing.assert_allclose(vectors @ np.diag(lam) @ vectors.conj().T, normal, atol=1e-10)


TINY_SSM = dict(lru_layers=2, s5_layers=2, ssm_states=8, s5_blocks=2)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lru", "s5"])
def test_a_model_trained_on_windows_rolls_out_the_whole_trajectory(name):
    """Trained on windows of 16 and 32 steps from the release (its loss on the 16-step windows falls),
    an SSM rolls out all 64 steps, finite, and its first 32 rows are a 32-step rollout's: the layers
    are causal, and the trajectory's length is only how far the scan runs."""
    data = plucks(6, samples=64, points=7, modes=2)[..., :1]
    frames = (data / data.std()).astype(np.float32)
    model, params = started(name, frames, **TINY_SSM)
    config = string_config(ssm_steps=40, ssm_window=16, ssm_lr=1e-2, batch=6, **TINY_SSM)
    r = train.recipe(models.MODELS[name], config, 0)
    trained, losses = train.train(model, params, frames[:, :32], r, log=lambda line: None)[:2]
    assert train.curriculum(40, 32, 16)[19] == 16 and np.mean(losses[15:20]) < 0.95 * np.mean(losses[:5])
    whole = train.predict(model, trained, frames[:, 0], 64)
    assert whole.shape == frames.shape and np.isfinite(whole).all()
    np.testing.assert_allclose(whole[:, :32], train.predict(model, trained, frames[:, 0], 32), atol=1e-5)


@pytest.mark.slow
def test_a_tiny_gru_run_learns_well_below_the_zero_predictor():
    """The GRU inside its lift and readout, windows from the release growing to the whole: its loss
    ends at a tenth of the zero predictor's (the frames' mean square), where the seed's form, the
    state itself the frame, stays near it."""
    data = plucks(8, samples=100, points=7, modes=2)[..., :1]
    frames = (data / data.std()).astype(np.float32)
    zero = float(np.mean(frames**2))
    losses = {}
    for hidden in (32, 0):
        model, params = started("gru", frames, gru_hidden=hidden)
        config = string_config(gru_steps=300, gru_window=25, gru_lr=1e-2, batch=8, gru_hidden=hidden)
        trained = train.train(
            model, params, frames, train.recipe(models.MODELS["gru"], config, 0), log=lambda line: None
        )
        losses[hidden] = np.mean(trained.losses[-10:])
    assert losses[32] < 0.1 * zero, losses
    assert losses[0] > 0.5 * zero, losses


def test_the_paper_recipe_trains_the_recurrent_parameters_slower_without_decay():
    """AdamW at lr with weight decay 1e-4 for the rest, Adam at lr/4 for ν, θ, γ, B and C: with a zero
    gradient the first step shrinks only the rest."""
    kind, config = models.MODELS["lru"], string_config(ssm_lr=1e-2, ssm_lr_recurrent=0.0, **TINY_SSM)
    r = train.recipe(kind, config, 0)
    assert (r.lr, r.lr_dynamics, r.weight_decay, r.clip) == (1e-2, 2.5e-3, 1e-4, 1.0)
    params = {"nu_log": jnp.ones(2), "B_re": jnp.ones((2, 2)), "D": jnp.ones(2)}
    optimizer = train.make_optimizer(10, r.lr, r.lr_dynamics, r.clip, r.weight_decay)
    updates, _ = optimizer.update(jax.tree.map(jnp.zeros_like, params), optimizer.init(params), params)
    assert float(jnp.abs(updates["nu_log"]).max()) == 0 and float(jnp.abs(updates["B_re"]).max()) == 0
    np.testing.assert_allclose(updates["D"], -1e-2 * 1e-4, rtol=1e-5)


@pytest.mark.parametrize("lr_io", [0.0, 3e-3])
def test_b_and_c_train_at_their_own_rate_when_given_one(lr_io):
    """Adam's first step on a unit gradient is the rate: ν at ssm_lr_recurrent, B at ssm_lr_io (0:
    ssm_lr_recurrent's), D at ssm_lr plus its weight decay."""
    config = string_config(ssm_lr=1e-2, ssm_lr_recurrent=5e-2, ssm_lr_io=lr_io, **TINY_SSM)
    r = train.recipe(models.MODELS["lru"], config, 0)
    params = {"nu_log": jnp.ones(2), "B_re": jnp.ones((2, 2)), "C_im": jnp.ones(2), "D": jnp.ones(2)}
    optimizer = train.make_optimizer(10, r.lr, r.lr_dynamics, r.clip, r.weight_decay, r.lr_io)
    grads = jax.tree.map(lambda p: jnp.full_like(p, 0.1), params)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    np.testing.assert_allclose(updates["nu_log"], -5e-2, rtol=1e-5)
    for name in ("B_re", "C_im"):
        np.testing.assert_allclose(updates[name], -(lr_io or 5e-2), rtol=1e-5)
    np.testing.assert_allclose(updates["D"], -1e-2 * (1 + 1e-4), rtol=1e-5)


def test_s5_blocks_must_hold_conjugate_pairs():
    with pytest.raises(ValueError, match="--ssm_states=12 --s5_blocks=4"):
        models.MODELS["s5"].build(string_config(ssm_states=12, s5_blocks=4), 7)


def test_a_dmd_started_gru_rolls_out_the_linear_string_it_was_fitted_on():
    """Started as the Hankel DMD fit of a linear string's displacements (its 5 moving points, 5
    modes: two frames hold its state), the GRU's rollout from each first frame is the simulated
    trajectory, 200 steps of it (row 0 the first frame itself: the carry starts one step back),
    its state small where tanh is linear."""
    data = plucks(12, samples=200, points=7, modes=5)[..., :1]
    frames = (data / data.std()).astype(np.float32)
    model, params = started("gru_dmd", frames, channels="u", model_size=5, gru_hidden=12)
    rollout = np.asarray(train.predict(model, params, frames[:, 0], 200), np.float64)
    assert np.sum((rollout - frames) ** 2) / np.sum(frames**2) < 1e-6
    state = model.scale * (frames[:, 0, :, 0] @ np.asarray(params["lift"]["kernel"]))
    np.testing.assert_allclose(np.sqrt(np.mean(state[:, :10] ** 2)), models.GRU_DMD_RMS, rtol=1e-3)
    assert np.all(state[:, 10:] == 0)


def test_a_dmd_started_gru_needs_room_for_the_fit():
    with pytest.raises(ValueError, match="--gru_hidden=6: .* expected gru_hidden ≥ 8"):
        started("gru_dmd", plucks(2, samples=20, points=7, modes=2)[..., :1], model_size=4, gru_hidden=6)


def test_named_modules_train_at_the_eigenvalues_rate():
    """The DMD-started GRU's recipe puts every parameter of its cell ("rnn") at gru_dmd_lr_recurrent,
    the lift and readout at gru_dmd_lr: Adam's first step on a unit gradient is the rate."""
    config = string_config(gru_dmd_lr=1e-3, gru_dmd_lr_recurrent=1e-6)
    r = train.recipe(models.MODELS["gru_dmd"], config, 0)
    assert (r.lr, r.lr_dynamics, r.recurrent_modules, r.window) == (1e-3, 1e-6, ("rnn",), 0)
    params = {"lift": {"kernel": jnp.ones(2)}, "rnn": {"cell": {"hn": {"kernel": jnp.ones(2)}}}}
    optimizer = train.make_optimizer(10, r.lr, r.lr_dynamics, r.clip, recurrent_modules=r.recurrent_modules)
    updates, _ = optimizer.update(jax.tree.map(jnp.ones_like, params), optimizer.init(params), params)
    np.testing.assert_allclose(updates["lift"]["kernel"], -1e-3, rtol=1e-5)
    np.testing.assert_allclose(updates["rnn"]["cell"]["hn"]["kernel"], -1e-6, rtol=1e-5)
