import { opencvPhotosDir } from '../../helpers/data.js';

/** The folder holding the opencv-doc sample photos (fruits.jpg, ...), or undefined. */
export const opencvSamples = opencvPhotosDir;

export const SAMPLES_MISSING = 'opencv-doc sample photos not found: run `npm run setup-data` or set CLOUDLESS_DATA';
