"""Every topology is self-consistent, and the maps between topologies mean what they say."""

import numpy as np
import pytest

from pose_ros import skeleton as sk

ALL = list(sk.TOPOLOGIES.values())


@pytest.mark.parametrize("topo", ALL, ids=lambda t: t.name)
def test_topology_is_consistent(topo):
    n = topo.num_keypoints
    assert len(set(topo.keypoint_names)) == n, "names must be unique"
    for a, b in topo.limbs:
        assert 0 <= a < n and 0 <= b < n and a != b
    assert len(set(map(frozenset, topo.limbs))) == len(topo.limbs), "no duplicate limbs"
    for left, right in topo.flip_pairs:
        assert topo.keypoint_names[left].startswith("left_")
        assert topo.keypoint_names[right] == "right_" + topo.keypoint_names[left][5:]
    perm = topo.flip_permutation()
    np.testing.assert_array_equal(perm[perm], np.arange(n))  # a mirror twice is the identity
    # every left/right name has its partner
    sided = [i for i in range(n) if topo.side(i) != "centre"]
    assert len(sided) == 2 * len(topo.flip_pairs)


@pytest.mark.parametrize("topo", ALL, ids=lambda t: t.name)
def test_limbs_mirror_onto_limbs(topo):
    perm = topo.flip_permutation()
    limbs = set(map(frozenset, topo.limbs))
    assert {frozenset((perm[a], perm[b])) for a, b in topo.limbs} == limbs


def test_blazepose_to_coco_maps_by_name():
    names = np.array(sk.BLAZEPOSE33.keypoint_names)[sk.BLAZEPOSE33_TO_COCO17]
    assert tuple(names) == sk.COCO17.keypoint_names
    assert sk.BLAZEPOSE33_TO_COCO17.tolist() == [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24,
                                                  25, 26, 27, 28]


def test_lifter_inputs_from_coco17():
    rng = np.random.default_rng(1)
    kp = np.column_stack([rng.uniform(0, 100, (17, 2)), rng.uniform(0.2, 1, 17)])
    out = sk.lifter_inputs_from_coco17(kp)
    c, h = sk.COCO17.index, sk.H36M17.index
    mid_hip = (kp[c("left_hip"), :2] + kp[c("right_hip"), :2]) / 2
    np.testing.assert_allclose(out[h("pelvis"), :2], mid_hip, rtol=1e-6)
    np.testing.assert_allclose(out[h("left_wrist")], kp[c("left_wrist")], rtol=1e-6)
    thorax = (kp[c("left_shoulder"), :2] + kp[c("right_shoulder"), :2]) / 2
    head = (kp[c("left_ear"), :2] + kp[c("right_ear"), :2]) / 2
    np.testing.assert_allclose(out[h("neck"), :2], (thorax + head) / 2, rtol=1e-6)
    assert out[h("neck"), 2] == pytest.approx(kp[[c("left_shoulder"), c("right_shoulder"),
                                                  c("left_ear"), c("right_ear")], 2].min())
    # batched input gives the same as one at a time
    batch = sk.lifter_inputs_from_coco17(np.stack([kp, kp * 2]))
    np.testing.assert_allclose(batch[0], out)


def test_lifter_to_topology_marks_face_joints_absent():
    idx = sk.lifter_to_topology(sk.COCO17)
    names = sk.COCO17.keypoint_names
    for i, j in enumerate(idx):
        if j >= 0:
            assert sk.H36M17.keypoint_names[j] == names[i]
    assert [names[i] for i in np.flatnonzero(idx < 0)] == list(names[:5])


def test_unknown_topology_names_the_choices():
    with pytest.raises(ValueError, match="coco17"):
        sk.get_topology("openpose25")


def test_lifter_world_from_blazepose33_follows_the_2d_definition():
    """World landmarks make the same joints as 2D keypoints (limbs by name, derived joints
    as for the lifter's 2D input), pelvis at the origin, any batch shape."""
    rng = np.random.default_rng(2)
    world = rng.normal(0, 0.4, (33, 3))
    out = sk.lifter_world_from_blazepose33(world)
    b, h = sk.BLAZEPOSE33.index, sk.H36M17.index
    pelvis = (world[b("left_hip")] + world[b("right_hip")]) / 2
    np.testing.assert_allclose(out[h("pelvis")], 0.0, atol=1e-6)
    for name in ("left_wrist", "right_ankle", "left_knee", "right_shoulder"):
        np.testing.assert_allclose(out[h(name)], world[b(name)] - pelvis, atol=1e-6)
    thorax = (world[b("left_shoulder")] + world[b("right_shoulder")]) / 2
    head = (world[b("left_ear")] + world[b("right_ear")]) / 2
    np.testing.assert_allclose(out[h("neck")], (thorax + head) / 2 - pelvis, atol=1e-6)
    np.testing.assert_allclose(out[h("spine")], (thorax - pelvis) / 2, atol=1e-6)
    # the same joints as the 2D path makes from BlazePose's COCO points
    as_2d = sk.lifter_inputs_from_coco17(
        np.column_stack([world[sk.BLAZEPOSE33_TO_COCO17, :2], np.ones(17)]))
    np.testing.assert_allclose(out[:, :2], as_2d[:, :2] - as_2d[h("pelvis"), :2], atol=1e-6)
    batch = sk.lifter_world_from_blazepose33(np.stack([world, world + 1.0])[None])
    assert batch.shape == (1, 2, 17, 3)
    np.testing.assert_allclose(batch[0, 1], out, atol=1e-6)   # a shift does not matter
