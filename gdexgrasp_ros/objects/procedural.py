"""Seeded procedural part-labelled objects: 13 training categories mirroring AffordPose's,
and 15 unseen categories kept out of priors and training (the paper's generalisation test).

Each builder draws realistic metric proportions from a seeded generator and returns closed
part meshes; the parts are fused with a boolean union (manifold3d) into one closed,
outward-oriented mesh, whose faces are labelled with the part they lie on.

Open containers are hollow where real ones are: the bowl (4-7 mm wall), and the unseen cup, vase
and bucket, which have 3-6 mm walls, an open mouth and a rolled rim ("body" is the wall, outside
and inside; "rim" the lip). The training categories the part models were fitted on (mug, pot, ...) keep their
solid bodies, so the fitted models stay as they are; the hollow cup is the open mug.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import trimesh

from . import shapes as S
from .part_object import PartMesh, PartObject, object_from_mesh

PartList = list[tuple[str, trimesh.Trimesh]]
Builder = Callable[[np.random.Generator], PartList]


def _handle_loop(
    rng, body_radius: float, z_low: float, z_high: float, thickness: float, reach: float
) -> trimesh.Trimesh:
    """A C-shaped side handle on the +x side of a body of radius body_radius, from z_low to z_high."""
    zc, half = (z_low + z_high) / 2, (z_high - z_low) / 2
    # Semi-ellipse bulging out to body_radius + reach, ends sunk into the body.
    a = np.linspace(-np.pi / 2, np.pi / 2, 28)
    path = np.stack([body_radius - 0.004 + reach * np.cos(a), np.zeros_like(a), zc + half * np.sin(a)], axis=1)
    return S.tube(path, thickness / 2)


def _open_vessel(outline_rz: np.ndarray, wall: float, base: float) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """A thin-walled vessel open at the top, and its rolled rim, from the outer outline.

    outline_rz: (r, z) points of the outer wall from the bottom edge (z = 0) up to the mouth. The
    wall is `wall` thick (measured along r), the floor `base` thick; the rim is a torus of the wall's
    thickness on the mouth, so the lip is round as on a real cup.
    """
    outer = np.asarray(outline_rz, float)
    inner = outer[::-1].copy()
    inner[:, 0] -= wall
    inner[-1, 1] = base  # the inner wall ends on the floor
    inner = inner[inner[:, 1] >= base]
    profile = np.concatenate([[[0.0, 0.0]], outer, inner, [[0.0, base]]])
    body = S.revolved(profile)
    r_mouth, z_mouth = outer[-1]
    # 61 sections: a multiple of the body's 32 would put vertices on one another where they meet.
    rim = trimesh.creation.torus(r_mouth - wall / 2, 0.55 * wall, major_sections=61, minor_sections=12)
    rim.apply_translation([0, 0, z_mouth])
    return body, rim


def _bezier(p0, p1, p2, n: int = 24) -> np.ndarray:
    """Quadratic Bezier path from p0 to p2 pulled towards p1 (handle centre lines)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = (np.asarray(p, float) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def bottle(rng) -> PartList:
    r, h = rng.uniform(0.028, 0.042), rng.uniform(0.14, 0.22)
    rn, hn = rng.uniform(0.011, 0.015), rng.uniform(0.03, 0.05)
    hc = rng.uniform(0.015, 0.025)
    shoulder = rng.uniform(0.02, 0.04)
    body = S.revolved([[0, 0], [r, 0], [r, h - shoulder], [rn + 0.002, h], [0, h]])
    neck = S.cylinder(rn, hn + 0.002, z0=h - 0.001)
    cap = S.cylinder(rn + 0.0025, hc, z0=h + hn - 0.002)
    return [("body", body), ("neck", neck), ("cap", cap)]


def bowl(rng) -> PartList:
    r, h, t = rng.uniform(0.06, 0.09), rng.uniform(0.045, 0.07), rng.uniform(0.004, 0.007)
    rb, hb = rng.uniform(0.3, 0.45) * r, rng.uniform(0.006, 0.01)
    k = np.linspace(0, 1, 12)
    outer = np.stack([rb + (r - rb) * np.sin(k * np.pi / 2), hb + h * (1 - np.cos(k * np.pi / 2))], 1)
    inner = np.stack(
        [(rb + (r - rb) * np.sin(k * np.pi / 2) - t)[::-1], (hb + t + (h - t) * (1 - np.cos(k * np.pi / 2)))[::-1]], 1
    )
    profile = np.concatenate([[[0, hb]], outer, inner, [[0, hb + t]]])
    body = S.revolved(profile)
    base = S.cylinder(rb, hb + 0.001)
    return [("body", body), ("base", base)]


def dispenser(rng) -> PartList:
    r, h = rng.uniform(0.03, 0.04), rng.uniform(0.1, 0.16)
    pump_h = rng.uniform(0.03, 0.05)
    body = S.cylinder(r, h)
    pump = S.cylinder(0.009, pump_h, z0=h - 0.002)
    head = S.box([0.02, 0.02, 0.015], center=[0.0, 0, h + pump_h])
    nozzle = S.tube(
        np.array([[0.005, 0, h + pump_h + 0.002], [0.045, 0, h + pump_h + 0.002], [0.05, 0, h + pump_h - 0.006]]), 0.004
    )
    return [("body", body), ("pump", trimesh.boolean.union([pump, head], engine="manifold")), ("nozzle", nozzle)]


def headphones(rng) -> PartList:
    rad, w = rng.uniform(0.075, 0.09), rng.uniform(0.018, 0.026)
    band = S.tube(S.arc([0, 0, 0.05], rad, 0.0, np.pi, u=(1, 0, 0), v=(0, 0, 1), n=40), w / 3)
    cups = [S.cylinder(0.04, 0.03, z0=0.045, center=(s * (rad + 0.012), 0.0), axis="x") for s in (-1, 1)]
    return [("headband", band), ("earcup", trimesh.boolean.union(cups, engine="manifold"))]


def faucet(rng) -> PartList:
    hb, rb = rng.uniform(0.04, 0.07), rng.uniform(0.022, 0.03)
    reach, hs = rng.uniform(0.1, 0.16), rng.uniform(0.12, 0.2)
    base = S.cylinder(rb, hb)
    path = np.concatenate([
        np.stack([np.zeros(6), np.zeros(6), np.linspace(hb - 0.01, hs, 6)], 1),
        S.arc([0.04, 0, hs], 0.04, np.pi, np.pi / 2, u=(1, 0, 0), v=(0, 0, 1), n=10)[1:],
        np.stack([np.linspace(0.05, reach, 5), np.zeros(5), np.full(5, hs + 0.04)], 1)[1:],
        np.stack([np.full(4, reach + 0.004), np.zeros(4), np.linspace(hs + 0.036, hs + 0.005, 4)], 1),
    ])  # fmt: skip
    spout = S.tube(path, 0.011)
    lever = S.box([0.07, 0.012, 0.01], center=[-0.03, 0, hb + 0.01], rotation=S.rotation_y(-0.3))
    return [("base", base), ("spout", spout), ("handle", lever)]


def handle_bottle(rng) -> PartList:
    r, h = rng.uniform(0.045, 0.06), rng.uniform(0.2, 0.28)
    body = S.revolved([[0, 0], [r, 0], [r, h * 0.8], [0.02, h], [0, h]])
    cap = S.cylinder(0.02, rng.uniform(0.018, 0.025), z0=h - 0.002)
    handle = _handle_loop(rng, r * 0.9, h * 0.45, h * 0.78, rng.uniform(0.018, 0.024), rng.uniform(0.035, 0.05))
    return [("body", body), ("handle", handle), ("cap", cap)]


def jar(rng) -> PartList:
    r, h = rng.uniform(0.035, 0.06), rng.uniform(0.08, 0.15)
    body = S.cylinder(r, h)
    lid = S.cylinder(r + 0.003, rng.uniform(0.015, 0.025), z0=h - 0.003)
    return [("body", body), ("lid", lid)]


def kettle(rng) -> PartList:
    r, h = rng.uniform(0.07, 0.095), rng.uniform(0.13, 0.19)
    body = S.revolved([[0, 0], [r, 0], [r * 1.04, h * 0.5], [r * 0.75, h], [0, h]])
    span = r * 0.55
    lift = rng.uniform(0.02, 0.04)
    handle = S.tube(S.arc([0, 0, h - 0.01 + lift], span, 0.15, np.pi - 0.15, u=(1, 0, 0), v=(0, 0, 1), n=30),
                    rng.uniform(0.009, 0.012))  # fmt: skip
    spout_base = np.array([-r * 0.9, 0, h * 0.35])
    spout = S.tube(np.linspace(spout_base, spout_base + [-0.06, 0, 0.07], 8), rng.uniform(0.009, 0.013))
    # Lids range from thick plugs to thin discs; knobs from a nub to a mushroom a hand pinches.
    lid = _knobbed_lid(rng, r * 0.55, h, rng.uniform(0.006, 0.018), sunk=0.004)
    return [("body", body), ("handle", handle), ("spout", spout), ("lid", lid)]


def _knobbed_lid(rng, radius: float, top: float, thickness: float, sunk: float) -> trimesh.Trimesh:
    """A disc of `thickness` standing `thickness - sunk` above the body's top, with a knob."""
    lid = S.cylinder(radius, thickness, z0=top - sunk)
    kr, kh = rng.uniform(0.01, 0.018), rng.uniform(0.008, 0.02)
    knob = S.ellipsoid([kr, kr, kh], center=[0, 0, top - sunk + thickness + 0.6 * kh])
    return trimesh.boolean.union([lid, knob], engine="manifold")


def knife(rng) -> PartList:
    lb, lh = rng.uniform(0.1, 0.2), rng.uniform(0.09, 0.12)
    wb = rng.uniform(0.02, 0.035)
    blade = S.box([lb, wb, 0.002], center=[lb / 2, 0, 0.008])
    tip = blade.vertices[:, 0] > lb * 0.99
    blade.vertices[tip & (blade.vertices[:, 1] < 0), 1] = wb / 2 - 0.003  # tapered tip
    handle = S.box([lh, 0.022, 0.016], center=[-lh / 2 + 0.004, 0, 0.008])
    return [("blade", blade), ("handle", handle)]


def mug(rng) -> PartList:
    r, h = rng.uniform(0.035, 0.048), rng.uniform(0.08, 0.11)
    body = S.cylinder(r, h)
    handle = _handle_loop(rng, r, h * 0.2, h * 0.85, rng.uniform(0.009, 0.013), rng.uniform(0.025, 0.035))
    return [("body", body), ("handle", handle)]


def pot(rng) -> PartList:
    r, h = rng.uniform(0.09, 0.13), rng.uniform(0.08, 0.14)
    body = S.cylinder(r, h)
    loops = []
    for s in (1, -1):
        a = np.linspace(-np.pi / 2, np.pi / 2, 16)
        path = np.stack([s * (r - 0.004 + 0.03 * np.cos(a)), 0.025 * np.sin(a), np.full_like(a, h * 0.8)], 1)
        loops.append(S.tube(path, 0.006))
    lid = _knobbed_lid(rng, r + 0.004, h, rng.uniform(0.006, 0.012), sunk=0.002)
    return [("body", body), ("lid", lid), ("handle", trimesh.boolean.union(loops, engine="manifold"))]


def scissors(rng) -> PartList:
    lb = rng.uniform(0.07, 0.11)
    blades = [S.box([lb, 0.012, 0.003], center=[lb / 2, 0, 0.006 + 0.003 * i], rotation=S.rotation_z(s * 0.12))
              for i, s in enumerate((1, -1))]  # fmt: skip
    rings = []
    for i, s in enumerate((1, -1)):
        ring_c = np.array([-0.04, s * 0.022, 0.006 + 0.003 * i])
        rings.append(S.tube(S.arc(ring_c, 0.016, 0, 2 * np.pi * 0.97, u=(1, 0, 0), v=(0, 1, 0), n=30), 0.0035))
        rings.append(S.tube(np.linspace(ring_c + [0.014, -s * 0.004, 0], [0.004, 0, ring_c[2]], 5), 0.0035))
    return [("blade", trimesh.boolean.union(blades, engine="manifold")),
            ("handle", trimesh.boolean.union(rings, engine="manifold"))]  # fmt: skip


def spray_bottle(rng) -> PartList:
    r, h = rng.uniform(0.035, 0.045), rng.uniform(0.15, 0.2)
    body = S.cylinder(r, h)
    head = S.box([0.06, 0.03, 0.045], center=[0.012, 0, h + 0.02])
    nozzle = S.cylinder(0.007, 0.02, z0=0.0, center=(0.05, 0.0), axis="x")
    nozzle.apply_translation([0, 0, h + 0.03])
    trigger = S.box([0.012, 0.016, 0.045], center=[0.05, 0, h - 0.005], rotation=S.rotation_y(0.25))
    return [("body", body), ("head", head), ("nozzle", nozzle), ("trigger", trigger)]


# -- unseen categories ------------------------------------------------------------------------
def frying_pan(rng) -> PartList:
    r, h, lh = rng.uniform(0.1, 0.14), rng.uniform(0.035, 0.05), rng.uniform(0.16, 0.22)
    pan = S.cylinder(r, h)
    handle = S.tube(np.linspace([r - 0.01, 0, h * 0.7], [r + lh, 0, h + 0.03], 6), rng.uniform(0.01, 0.013))
    return [("body", pan), ("handle", handle)]


def saucepan(rng) -> PartList:
    r, h, lh = rng.uniform(0.07, 0.1), rng.uniform(0.07, 0.11), rng.uniform(0.14, 0.19)
    body = S.cylinder(r, h)
    lid = S.cylinder(r + 0.004, 0.012, z0=h - 0.002)
    handle = S.tube(np.linspace([r - 0.01, 0, h * 0.8], [r + lh, 0, h + 0.02], 6), 0.011)
    return [("body", body), ("handle", handle), ("lid", lid)]


def broom(rng) -> PartList:
    lh = rng.uniform(0.9, 1.2)
    handle = S.cylinder(0.012, lh, z0=0.0, center=(lh / 2, 0.0), axis="x")
    handle.apply_translation([0, 0, 0.03])
    head = S.box([0.06, 0.28, 0.06], center=[-0.02, 0, 0.03])
    return [("handle", handle), ("head", head)]


def umbrella(rng) -> PartList:
    ls = rng.uniform(0.55, 0.75)
    canopy = S.frustum(0.045, 0.008, ls * 0.75)
    canopy.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    canopy.apply_translation([0.05, 0, 0.045])
    shaft = S.cylinder(0.006, ls, z0=0.045, center=(ls / 2 - 0.1, 0.0), axis="x")
    hook = S.tube(np.concatenate([np.linspace([-0.1, 0, 0.045], [-0.2, 0, 0.045], 4),
                                  S.arc([-0.2, 0, 0.085], 0.04, -np.pi / 2, -1.5 * np.pi, u=(0, 0, 1), v=(1, 0, 0), n=14)[1:]]),
                  0.012)  # fmt: skip
    return [("canopy", canopy), ("shaft", shaft), ("handle", hook)]


def suitcase(rng) -> PartList:
    w, d, h = rng.uniform(0.35, 0.5), rng.uniform(0.18, 0.25), rng.uniform(0.45, 0.65)
    body = S.box([w, d, h], center=[0, 0, h / 2])
    hw = rng.uniform(0.1, 0.14)
    a = np.linspace(0, np.pi, 20)
    handle = S.tube(np.stack([hw / 2 * np.cos(a), np.zeros_like(a), h - 0.004 + 0.035 * np.sin(a)], 1), 0.011)
    return [("body", body), ("handle", handle)]


def hammer(rng) -> PartList:
    lh = rng.uniform(0.25, 0.33)
    handle = S.box([lh, 0.03, 0.022], center=[lh / 2, 0, 0.016])
    head = S.box([0.035, rng.uniform(0.1, 0.13), 0.032], center=[lh + 0.01, 0, 0.016])
    return [("handle", handle), ("head", head)]


def screwdriver(rng) -> PartList:
    lh, ls = rng.uniform(0.09, 0.12), rng.uniform(0.08, 0.15)
    handle = S.cylinder(rng.uniform(0.013, 0.017), lh, z0=0.0, center=(lh / 2, 0.0), axis="x")
    handle.apply_translation([0, 0, 0.017])
    shaft = S.cylinder(0.003, ls + 0.01, z0=0.0, center=(lh + ls / 2 - 0.005, 0.0), axis="x")
    shaft.apply_translation([0, 0, 0.017])
    return [("handle", handle), ("shaft", shaft)]


def drill(rng) -> PartList:
    lb = rng.uniform(0.16, 0.22)
    body = S.cylinder(0.032, lb, z0=0.0, center=(lb / 2, 0.0), axis="x")
    body.apply_translation([0, 0, 0.2])
    grip = S.box([0.045, 0.035, 0.15], center=[0.04, 0, 0.115], rotation=S.rotation_y(-0.2))
    battery = S.box([0.09, 0.07, 0.05], center=[0.035, 0, 0.025])
    trigger = S.box([0.012, 0.014, 0.03], center=[0.075, 0, 0.165])
    chuck = S.frustum(0.02, 0.01, 0.05)
    chuck.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    chuck.apply_translation([lb - 0.005, 0, 0.2])
    return [("body", body), ("handle", trimesh.boolean.union([grip, battery], engine="manifold")),
            ("trigger", trigger), ("chuck", chuck)]  # fmt: skip


def watering_can(rng) -> PartList:
    r, h = rng.uniform(0.07, 0.1), rng.uniform(0.15, 0.22)
    body = S.cylinder(r, h)
    a = np.linspace(0.1, np.pi - 0.1, 24)
    handle = S.tube(
        np.stack([-r * 0.3 + r * 0.9 * np.cos(a) * 0.8, np.zeros_like(a), h - 0.01 + 0.06 * np.sin(a)], 1), 0.011
    )
    spout = S.tube(np.linspace([r * 0.8, 0, h * 0.2], [r + 0.17, 0, h + 0.04], 8), 0.012)
    return [("body", body), ("handle", handle), ("spout", spout)]


def teapot(rng) -> PartList:
    r, h = rng.uniform(0.07, 0.09), rng.uniform(0.1, 0.13)
    body = S.ellipsoid([r, r, h / 2], center=[0, 0, h / 2])
    lid = S.cylinder(r * 0.45, 0.02, z0=h - 0.008)
    lid = trimesh.boolean.union([lid, S.ellipsoid([0.01, 0.01, 0.01], center=[0, 0, h + 0.015])], engine="manifold")
    handle = _handle_loop(rng, r * 0.85, h * 0.25, h * 0.85, 0.012, rng.uniform(0.035, 0.045))
    spout = S.tube(np.linspace([-r * 0.8, 0, h * 0.3], [-r - 0.07, 0, h * 0.85], 8), 0.011)
    return [("body", body), ("handle", handle), ("spout", spout), ("lid", lid)]


def flashlight(rng) -> PartList:
    lb, r = rng.uniform(0.12, 0.2), rng.uniform(0.014, 0.02)
    body = S.cylinder(r, lb, z0=0.0, center=(lb / 2, 0.0), axis="x")
    head = S.frustum(r, r * 1.6, 0.045)
    head.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    head.apply_translation([lb - 0.003, 0, 0])
    for m in (body, head):
        m.apply_translation([0, 0, r * 1.6])
    return [("body", body), ("head", head)]


def jug(rng) -> PartList:
    r, h = rng.uniform(0.05, 0.07), rng.uniform(0.16, 0.24)
    body = S.revolved([[0, 0], [r, 0], [r, h * 0.75], [r * 0.6, h], [0, h]])
    lid = S.cylinder(r * 0.62, 0.02, z0=h - 0.004)
    handle = _handle_loop(rng, r * 0.95, h * 0.3, h * 0.8, 0.014, rng.uniform(0.035, 0.045))
    return [("body", body), ("handle", handle), ("lid", lid)]


def cup(rng) -> PartList:
    """The open mug: a hollow cylinder with a floor, a rim and a C handle."""
    r, h = rng.uniform(0.035, 0.048), rng.uniform(0.08, 0.11)
    wall = rng.uniform(0.003, 0.005)
    body, rim = _open_vessel([[r, 0.0], [r, h]], wall, rng.uniform(0.006, 0.009))
    handle = _handle_loop(rng, r, h * 0.2, h * 0.8, rng.uniform(0.009, 0.013), rng.uniform(0.025, 0.035))
    return [("body", body), ("handle", handle), ("rim", rim)]


def vase(rng) -> PartList:
    """An amphora-like vase: hollow bulging body, narrow neck, flared open mouth, two side handles."""
    h = rng.uniform(0.2, 0.28)
    foot, belly, neck = rng.uniform(0.035, 0.05), rng.uniform(0.07, 0.095), rng.uniform(0.028, 0.04)
    mouth = neck + rng.uniform(0.008, 0.018)
    z = np.linspace(0.0, 1.0, 16)
    # Smooth outline: foot -> belly (at 0.4 h) -> neck (at 0.82 h) -> flared mouth.
    knots_z, knots_r = [0.0, 0.4, 0.82, 1.0], [foot, belly, neck, mouth]
    outline = np.stack([np.interp(z, knots_z, knots_r), z * h], 1)
    outline[:, 0] = np.convolve(np.pad(outline[:, 0], 1, mode="edge"), [0.25, 0.5, 0.25], "valid")
    wall = rng.uniform(0.004, 0.006)
    body, rim = _open_vessel(outline, wall, rng.uniform(0.008, 0.012))
    z_low, z_high = 0.55 * h, 0.84 * h
    r_low, r_high = np.interp([z_low / h, z_high / h], z, outline[:, 0])
    reach, thick = rng.uniform(0.025, 0.04), rng.uniform(0.007, 0.009)
    handles = []
    for s in (1.0, -1.0):
        path = _bezier([s * (r_low - 0.006), 0, z_low], [s * (max(r_low, r_high) + 2 * reach), 0, (z_low + z_high) / 2 + 0.03],
                       [s * (r_high - 0.004), 0, z_high])  # fmt: skip
        handles.append(S.tube(path, thick))
    return [("body", body), ("handle", trimesh.boolean.union(handles, engine="manifold")), ("rim", rim)]


def bucket(rng) -> PartList:
    """An open household bucket (tapered, thin plastic wall) with a bail handle over the mouth."""
    rb, rt, h = rng.uniform(0.1, 0.12), rng.uniform(0.12, 0.145), rng.uniform(0.2, 0.26)
    wall = rng.uniform(0.003, 0.004)
    body, rim = _open_vessel([[rb, 0.0], [rt, h]], wall, rng.uniform(0.004, 0.006))
    rise = rng.uniform(0.08, 0.12)
    a = np.linspace(0.0, np.pi, 30)
    # The bail: ends sunk into the wall's lugs just under the rim, arching `rise` above the mouth.
    bail = np.stack([(rt - 0.002) * np.cos(a), np.zeros_like(a), h - 0.02 + (rise + 0.02) * np.sin(a)], 1)
    lugs = [S.box([0.012, 0.03, 0.03], center=[s * (rt + 0.002), 0, h - 0.025]) for s in (1, -1)]
    handle = trimesh.boolean.union([S.tube(bail, rng.uniform(0.006, 0.008)), *lugs], engine="manifold")
    return [("body", body), ("handle", handle), ("rim", rim)]


TRAIN_CATEGORIES: dict[str, Builder] = {
    "bottle": bottle, "bowl": bowl, "dispenser": dispenser, "headphones": headphones, "faucet": faucet,
    "handle bottle": handle_bottle, "jar": jar, "kettle": kettle, "knife": knife, "mug": mug, "pot": pot,
    "scissors": scissors, "spray bottle": spray_bottle,
}  # fmt: skip
UNSEEN_CATEGORIES: dict[str, Builder] = {
    "frying pan": frying_pan, "saucepan": saucepan, "broom": broom, "umbrella": umbrella, "suitcase": suitcase,
    "hammer": hammer, "screwdriver": screwdriver, "drill": drill, "watering can": watering_can, "teapot": teapot,
    "flashlight": flashlight, "jug": jug, "cup": cup, "vase": vase, "bucket": bucket,
}  # fmt: skip
ALL_CATEGORIES = {**TRAIN_CATEGORIES, **UNSEEN_CATEGORIES}


def generate_mesh(category: str, seed: int = 0) -> tuple[PartMesh, list[str]]:
    """One closed, part-labelled mesh of a category (deterministic for a seed)."""
    try:
        builder = ALL_CATEGORIES[category]
    except KeyError:
        raise ValueError(f"unknown category '{category}'; known: {sorted(ALL_CATEGORIES)}") from None
    parts = builder(np.random.default_rng(seed))
    names = list(dict.fromkeys(name for name, _ in parts))
    fused = trimesh.boolean.union([m for _, m in parts], engine="manifold")
    if not fused.is_watertight:
        raise RuntimeError(f"{category} (seed {seed}): fused mesh is not closed")
    return PartMesh(fused.vertices, fused.faces, _label_faces(fused, parts, names)), names


def _label_faces(fused: trimesh.Trimesh, parts: PartList, names: list[str]) -> np.ndarray:
    """Each face takes the part whose surface its centroid lies on (nearest part surface)."""
    centers = fused.triangles_center
    dist = np.full((len(parts), len(centers)), np.inf)
    for i, (_, mesh) in enumerate(parts):
        _, d, _ = trimesh.proximity.closest_point(mesh, centers)
        dist[i] = d
    owner = dist.argmin(0)
    return np.array([names.index(parts[k][0]) for k in owner], dtype=np.int64)


def generate_object(category: str, seed: int = 0, n_points: int = 2048) -> PartObject:
    """A sampled PartObject (points, outward normals, part labels) with its mesh."""
    mesh, names = generate_mesh(category, seed)
    split = "train" if category in TRAIN_CATEGORIES else "unseen"
    return object_from_mesh(mesh, names, n_points, seed, category, f"procedural:{category}:seed={seed}:{split}")
