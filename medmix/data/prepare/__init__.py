"""Dataset preparation: convert official releases into the harness layout (`medmix data prepare`).

    from medmix.data.prepare import prepare_dataset
    report = prepare_dataset("flare22", "~/Downloads/FLARE22Train", "~/medmix-data")
    print(report.summary(), report.warnings)

One converter per release layout, registered by name in `CONVERTERS` (a `Registry` of "dataset converter"s):

    flare22      FLARE22 labelled CT, 13 organs                 msd_task02  MSD Heart (left atrium, MRI)
    promise12    PROMISE12 prostate T2 MR (MetaImage)           msd_task05  MSD Prostate (T2 channel; PZ, TZ)
    brats2021    BraTS 2021 (4 sequences as channels; 1/2/4)    msd_task06  MSD Lung (tumour, CT)
    kits         KiTS19/21/23 (kidney, tumour, cyst)            msd_task07  MSD Pancreas (pancreas, tumour, CT)
    lits         LiTS (liver, tumour; ids lits_000…)            topcow      TopCoW CoW vessels (MRA by default)
    nasalseg     NasalSeg nasal cavity/sinus CT (NRRD)          refuge      REFUGE fundus disc/cup (RGB 2D)
    freesurfer   FreeSurfer T1 + aseg.mgz (conformed or rawavg) dofe_fundus DoFE 4-domain disc/cup crops (RGB 2D)
    rat, generic_pairs  images/ + labels/ pairs

Each is a function `prepare_<name>(src, dst, *, overwrite=False, progress=None, **options) -> PrepareReport` and
writes ROOT/<dataset_id>/images|labels/<case>.nii.gz plus dataset.json (see `medmix.data.layout`), keeping the
official case ids. Re-running skips cases already written; a wrong --src raises an `InputError` that shows the
expected tree and the download address. A plugin registers its own converter with `@converter(...)` (see
`core.converter`). Readers for MetaImage and NRRD (numpy only) live in `metaimage` and `nrrd`.
"""

from medmix.data.prepare.core import (CONVERTERS, CaseSource, ConverterSpec, Job, LoadedCase, PrepareReport,
                                      converter, get_converter, list_converters, load_pair, parse_int_list,
                                      parse_label_names, parse_options, prepare_dataset)

# Importing the converter modules registers them (numpy only at import; nibabel/PIL load on first use).
from medmix.data.prepare.flare22 import prepare_flare22  # noqa: E402  (registration order = listing order)
from medmix.data.prepare.promise12 import prepare_promise12  # noqa: E402
from medmix.data.prepare.msd import (prepare_msd_task02, prepare_msd_task05, prepare_msd_task06,  # noqa: E402
                                     prepare_msd_task07)
from medmix.data.prepare.brats import prepare_brats2021  # noqa: E402
from medmix.data.prepare.kits import prepare_kits  # noqa: E402
from medmix.data.prepare.lits import prepare_lits  # noqa: E402
from medmix.data.prepare.topcow import prepare_topcow  # noqa: E402
from medmix.data.prepare.nasalseg import prepare_nasalseg  # noqa: E402
from medmix.data.prepare.refuge import prepare_refuge  # noqa: E402
from medmix.data.prepare.dofe import prepare_dofe_fundus  # noqa: E402
from medmix.data.prepare.freesurfer import prepare_freesurfer  # noqa: E402
from medmix.data.prepare.generic import prepare_generic_pairs, prepare_rat  # noqa: E402
from medmix.data.prepare.metaimage import read_metaimage  # noqa: E402
from medmix.data.prepare.nrrd import read_nrrd  # noqa: E402
from medmix.data.prepare.readers import read_volume  # noqa: E402

__all__ = [
    "CONVERTERS", "CaseSource", "ConverterSpec", "Job", "LoadedCase", "PrepareReport", "converter", "get_converter",
    "list_converters", "load_pair", "parse_int_list", "parse_label_names", "parse_options", "prepare_brats2021",
    "prepare_dataset", "prepare_dofe_fundus",
    "prepare_flare22", "prepare_freesurfer", "prepare_generic_pairs", "prepare_kits", "prepare_lits",
    "prepare_msd_task02", "prepare_msd_task05", "prepare_msd_task06", "prepare_msd_task07", "prepare_nasalseg",
    "prepare_promise12", "prepare_rat", "prepare_refuge", "prepare_topcow", "read_metaimage", "read_nrrd",
    "read_volume",
]
