"""Training a site-adapted head (``kiosk.vision.head``) on the enrolled people.

The head is trained on the frozen embeddings of the site's enrollment photos with a
contrastive loss (Hadsell, Chopra and LeCun 2006) with two margins:

- positive pairs, two views of one person (two photos, or a photo and an augmentation of
  it), are pulled within ``pos_margin``;
- negative pairs, two people, are pushed beyond ``margin``; only the ``hard`` closest
  negatives of each anchor count (hard-negative mining), and each batch is made of
  people next to each other in the head's current space (so the hard pairs of the whole
  site meet in one batch).

The residual head starts as the identity and weight decay pulls it back there. Training
stops early when the loss of held-out photos of the enrolled people (one photo of every
person with three or more, searched against the centres of everyone's other photos) has
not improved for ``patience`` epochs; the head is then trained again on all the photos
for the best number of epochs (0: the identity, the head learned nothing that held).

An optional SimSiam term (Chen and He 2021: two augmented views of an unlabelled photo, a
predictor, a stop-gradient) can add photos without labels.

:func:`site_curve` measures what the door needs to choose a threshold with a head: the
site's people are split into folds, a head is trained without each fold's people, and
their photos are compared with everyone else's centres (impostor comparisons: strangers
the head never saw) and with their own other photos (genuine comparisons).

The modules: ``config`` (settings, photos, cancelling), ``residual`` (the head),
``losses``, ``training`` (:func:`train`, :func:`fit`), ``site`` (:func:`site_curve`) and
``augment`` (more views of the photos). This package re-exports what the services, the
tools and the tests use.
"""

from kiosk.vision.adapt.augment import Progress, augment_chip, augmented_views, noise_views
from kiosk.vision.adapt.config import AdaptConfig, Cancelled, Views, config_dict
from kiosk.vision.adapt.losses import centre_loss, contrastive_loss, simsiam_loss, unit_centres
from kiosk.vision.adapt.residual import ResidualHead, make_head
from kiosk.vision.adapt.site import (
    GRID,
    TAIL,
    Distances,
    SiteMeasure,
    head_distances,
    site_curve,
)
from kiosk.vision.adapt.training import Trained, fit, holdout, train

__all__ = [
    "GRID",
    "TAIL",
    "AdaptConfig",
    "Cancelled",
    "Distances",
    "Progress",
    "ResidualHead",
    "SiteMeasure",
    "Trained",
    "Views",
    "augment_chip",
    "augmented_views",
    "centre_loss",
    "config_dict",
    "contrastive_loss",
    "fit",
    "head_distances",
    "holdout",
    "make_head",
    "noise_views",
    "simsiam_loss",
    "site_curve",
    "train",
    "unit_centres",
]
